"""The typed items the IMDb spider yields and its pipelines validate and store.

Spiders only extract: a ``TitleItem`` carries what a title page's schema.org JSON-LD
says (already typed: JSON-LD is structured data), a ``ReviewItem`` carries a review's
pieces as the page shows them (date and rating as text), which the validation
pipeline turns into a timestamp and a number or drops with a reason. ``TitleDone``
marks the end of one title's pages, so the store pipeline can commit that title's
rows together with its cursor.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TitleItem:
    tconst: str
    url: str
    name: str | None = None
    description: str | None = None
    image: str | None = None
    trailer: str | None = None  # the asset uri: ``youtube:<id>`` or the trailer's URL
    genres: list[str] = field(default_factory=list)
    date_published: str | None = None
    year: int | None = None
    runtime_minutes: int | None = None
    rating_value: float | None = None
    rating_count: int | None = None
    title_type: str | None = None  # the JSON-LD @type: Movie, TVSeries, ...


@dataclass
class ReviewItem:
    review_id: str
    tconst: str
    page_url: str
    position: int  # 1-based place on its page, for rejection reports
    user_id: str | None = None
    user_name: str | None = None
    date: str | None = None  # as shown: "15 March 2020" or ISO 8601
    rating: str | None = None  # as shown: "8"; None when the reviewer gave none
    headline: str | None = None
    text: str | None = None
    # Filled by the validation pipeline.
    ts: int | None = None
    value: float | None = None


@dataclass
class TitleDone:
    """Every page of one title was handled (or robots.txt forbade the rest)."""

    tconst: str
    reviews: bool  # whether reviews were asked for
    review_pages: int = 0
    reviews_complete: bool = False  # the last page had no "load more" link
    robots_forbidden: bool = False
