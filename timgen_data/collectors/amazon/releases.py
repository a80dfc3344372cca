"""Where each Amazon Reviews release keeps its per-category files, and how it names them.

The two releases differ in layout, file names, id fields and time units; everything
else in the collector is written once against :class:`Release`.
"""

from __future__ import annotations

from dataclasses import dataclass

from timgen_data.errors import UsageError
from timgen_data.sources import SOURCES

COLLECTOR = "amazon"
LICENSE = SOURCES[COLLECTOR].license


@dataclass(frozen=True)
class Release:
    name: str
    default_base_url: str
    review_path: str  # relative to the base URL; {category} is filled in
    meta_path: str
    time_unit: str  # unit of the review timestamps
    python_literals: bool  # metadata lines may be Python literals (2014-style dumps)

    @property
    def namespace(self) -> str:
        return f"amazon-{self.name}"

    def review_url(self, category: str, base_url: str | None = None) -> str:
        return _join(base_url or self.default_base_url, self.review_path.format(category=category))

    def meta_url(self, category: str, base_url: str | None = None) -> str:
        return _join(base_url or self.default_base_url, self.meta_path.format(category=category))

    def review_file(self, category: str) -> str:
        return self.review_path.format(category=category).rsplit("/", 1)[-1]

    def meta_file(self, category: str) -> str:
        return self.meta_path.format(category=category).rsplit("/", 1)[-1]


RELEASES = {
    "2023": Release(
        "2023", "https://datasets.cs.ucsd.edu/amazon-reviews-2023",
        "raw/review_categories/{category}.jsonl.gz", "raw/meta_categories/meta_{category}.jsonl.gz",
        time_unit="ms", python_literals=False,
    ),
    "2018": Release(
        "2018", "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2",
        "categoryFiles/{category}.json.gz", "metaFiles2/meta_{category}.json.gz",
        time_unit="s", python_literals=True,
    ),
}


def get_release(name: str) -> Release:
    try:
        return RELEASES[str(name)]
    except KeyError:
        raise UsageError(f"unknown Amazon Reviews release {name!r}; use one of {', '.join(RELEASES)}") from None


def check_category(category: str) -> str:
    # The category becomes part of a URL and of a file name: refuse anything that could escape either.
    if not category or not all(c.isalnum() or c in "_-&," for c in category):
        raise UsageError(f"not an Amazon Reviews category name: {category!r}; e.g. All_Beauty, Video_Games")
    return category


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path
