"""IMDb: official non-commercial TSV dumps (titles, ratings) and a Scrapy spider for
title pages (JSON-LD: plot, poster, trailer) and user reviews (dated, rated comments).

``collect_imdb_dumps`` streams the dumps into items; ``crawl_titles`` runs the spider
in a child process (``crawl``) and stores what its pipelines accept.
"""

from timgen_data.collectors.imdb.dumps import collect_imdb_dumps, obtain_dump
from timgen_data.collectors.imdb.items import ReviewItem, TitleDone, TitleItem
from timgen_data.collectors.imdb.names import (
    COLLECTOR,
    DEFAULT_TITLE_TYPES,
    DUMPS,
    DUMPS_LICENSE,
    DUMPS_URL,
    NAMESPACE,
    PAGES_LICENSE,
    SITE_URL,
    default_user_agent,
)
from timgen_data.collectors.imdb.pages import ReviewPage, duration_minutes, parse_review_page, parse_title_page
from timgen_data.collectors.imdb.run import CrawlReport, crawl_titles

__all__ = [
    "COLLECTOR",
    "DEFAULT_TITLE_TYPES",
    "DUMPS",
    "DUMPS_LICENSE",
    "DUMPS_URL",
    "NAMESPACE",
    "PAGES_LICENSE",
    "SITE_URL",
    "CrawlReport",
    "ReviewItem",
    "ReviewPage",
    "TitleDone",
    "TitleItem",
    "collect_imdb_dumps",
    "crawl_titles",
    "default_user_agent",
    "duration_minutes",
    "obtain_dump",
    "parse_review_page",
    "parse_title_page",
]
