"""Every source ``timgen-data collect`` knows, in one table: ``SOURCES``.

``collect <name>`` is made from it (each entry names its click command as
``"module:attribute"``, imported only when that subcommand runs), the collectors record
its license with each download, and the dataset card prints its licenses and citations.
It stands below every stage and imports none of them: a collector is named here by
strings only, so reading the table costs no import of Scrapy, torch or the collectors.

>>> SOURCES["movielens"].command
'timgen_data.cli.collect.movielens:movielens'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One source: what it is, under which terms, and where its code and rows live."""

    name: str  # the `collect` subcommand and the `collector` column of the store's `sources` table
    title: str  # how people name it: the README's data terms table lists it by this
    summary: str  # one line
    license: str | None  # recorded with each download and shown on the card; None: data the user brings
    citation: str | None  # BibTeX, printed on the card of every dataset built from it
    command: str  # the click command, "module:attribute"
    namespaces: tuple[str, ...]  # store namespaces of its users and items; a trailing "-" is a prefix
    # Variants collected under other terms than `license` (IMDb's crawled pages are not its dumps).
    variant_licenses: tuple[tuple[str, str], ...] = ()
    # The lowest and highest rating its users give (the `value` of its `rate` and review rows), or
    # None where it has no fixed scale. Ratings keep their source's scale: the movie scenario's
    # y_score is the rating as given, so `label` reports which scales its scores are on.
    rating_scale: tuple[float, float] | None = None

    def license_of(self, variant: str) -> str | None:
        return dict(self.variant_licenses).get(variant, self.license)

    def owns_namespace(self, namespace: str) -> bool:
        return any(namespace.startswith(n) if n.endswith("-") else namespace == n for n in self.namespaces)


def source_of_namespace(namespace: str) -> Source | None:
    """The source whose users and items live in ``namespace``; None for a namespace no source owns.

    >>> source_of_namespace("movielens-100k").rating_scale
    (0.5, 5.0)
    """
    return next((s for s in SOURCES.values() if s.owns_namespace(namespace)), None)


MOVIELENS_CITATION = """@article{harper2015movielens,
  title   = {The MovieLens Datasets: History and Context},
  author  = {Harper, F. Maxwell and Konstan, Joseph A.},
  journal = {ACM Transactions on Interactive Intelligent Systems},
  volume  = {5}, number = {4}, pages = {19:1--19:19}, year = {2015},
  doi     = {10.1145/2827872}
}"""

IMDB_PAGES_LICENSE = "IMDb pages: IMDb Conditions of Use (https://www.imdb.com/conditions); research use, no redistribution"


def _command(name: str) -> str:
    return f"timgen_data.cli.collect.{name}:{name}"


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            "movielens", "MovieLens", "a MovieLens release (100k … 32m, latest-small): ratings, movies, users",
            license=("MovieLens (GroupLens Research, University of Minnesota): research use only; the data "
                     "may not be redistributed without permission; publications must cite Harper & Konstan (2015)."),
            citation=MOVIELENS_CITATION, command=_command("movielens"), namespaces=("movielens-",),
            rating_scale=(0.5, 5.0),
        ),
        Source(
            "amazon", "Amazon Reviews", "one category of Amazon Reviews 2023 or 2018: reviews and metadata",
            license="Amazon Reviews (McAuley Lab, UCSD): for research use; cite the release's paper",
            citation=None, command=_command("amazon"), namespaces=("amazon-",), rating_scale=(1.0, 5.0),
        ),
        Source(
            "imdb", "IMDb", "IMDb's non-commercial TSV dumps, or title pages and user reviews (crawled)",
            license=("IMDb Non-Commercial Datasets: personal and non-commercial use only, subject to IMDb's terms "
                     "(https://developer.imdb.com/non-commercial-datasets/)"),
            citation=None, command=_command("imdb"), namespaces=("imdb",),
            variant_licenses=(("pages", IMDB_PAGES_LICENSE),), rating_scale=(1.0, 10.0),
        ),
        Source(
            "youtube", "YouTube", "videos, categories, thumbnails and comments through the YouTube Data API v3",
            license=("YouTube API Services Terms of Service and Developer Policies "
                     "(https://developers.google.com/youtube/terms); content stays its owners'"),
            citation=None, command=_command("youtube"), namespaces=("youtube",),
        ),
        Source(
            "twitter", "X (Twitter)", "posts, authors, media and engagement through the X API v2",
            license=("X Developer Agreement and Policy (https://developer.x.com/en/developer-terms): "
                     "redistribute post and user ids, not the content"),
            citation=None, command=_command("twitter"), namespaces=("twitter",),
        ),
        Source(
            "events", "Platform event logs", "a platform's own logs (CSV, JSON lines, Parquet) through a TOML mapping",
            license=None, citation=None, command=_command("events"), namespaces=("events-",),
        ),
        Source(
            "mmrec", "MMRec datasets", "a dataset in the MMRec toolbox layout: interactions, ids, feature matrices",
            license=None, citation=None, command=_command("mmrec"), namespaces=("mmrec-",),
        ),
    )
}
