"""The MovieLens releases: where each lives and how its files are laid out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from timgen_data.errors import UsageError
from timgen_data.sources import SOURCES

DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"

LICENSE = SOURCES["movielens"].license
CITATION = SOURCES["movielens"].citation

Layout = Literal["100k", "dat", "csv"]


@dataclass(frozen=True)
class Variant:
    """One MovieLens release."""

    name: str  # what users type: 100k, 1m, ...
    archive: str  # file name under the base URL
    folder: str  # top-level folder inside the archive
    layout: Layout
    has_users: bool
    md5: str | None = None  # the published checksum when pinned here
    # Whole stars in 100K and 1M; half stars from 10M on (the releases' READMEs).
    rating_scale: tuple[float, float] = (0.5, 5.0)

    @property
    def namespace(self) -> str:
        """Source namespace of users and items: ids are only unique within a release."""
        return f"movielens-{self.name}"

    def url(self, base_url: str | None = None) -> str:
        return f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/{self.archive}"


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("100k", "ml-100k.zip", "ml-100k", "100k", has_users=True, rating_scale=(1.0, 5.0)),
        Variant("1m", "ml-1m.zip", "ml-1m", "dat", has_users=True, md5="c4d9eecfca2ab87c1945afe126590906",
                rating_scale=(1.0, 5.0)),
        Variant("10m", "ml-10m.zip", "ml-10M100K", "dat", has_users=False),
        Variant("20m", "ml-20m.zip", "ml-20m", "csv", has_users=False),
        Variant("25m", "ml-25m.zip", "ml-25m", "csv", has_users=False),
        Variant("32m", "ml-32m.zip", "ml-32m", "csv", has_users=False),
        Variant("latest-small", "ml-latest-small.zip", "ml-latest-small", "csv", has_users=False),
    )
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise UsageError(
            f"unknown MovieLens variant {name!r}; choose one of {', '.join(VARIANTS)}"
        ) from None
