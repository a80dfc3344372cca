"""Collectors: one module per source, each fetch (I/O) + parse (pure) + save (store).

``COLLECTORS`` is where a source is registered: its name maps to the import path of its
collect function (``module:function``).
"""

from timgen_data.collectors.movielens import collect_movielens
from timgen_data.collectors.report import CollectReport, Rejection

# Web collectors are imported by name when used: Scrapy, googleapiclient and their
# dependencies are slow to import and a MovieLens run needs none of them.
COLLECTORS = {
    "movielens": "timgen_data.collectors.movielens:collect_movielens",
    "amazon": "timgen_data.collectors.amazon:collect_amazon",
    "imdb": "timgen_data.collectors.imdb:collect_imdb_dumps",
    "mmrec": "timgen_data.collectors.mmrec:collect_mmrec",
    "events": "timgen_data.collectors.events:collect_events",
    "imdb-pages": "timgen_data.collectors.imdb:crawl_titles",
    "youtube": "timgen_data.collectors.youtube:collect_youtube",
    "twitter": "timgen_data.collectors.twitter:collect_twitter",
}

__all__ = ["COLLECTORS", "CollectReport", "Rejection", "collect_movielens"]
