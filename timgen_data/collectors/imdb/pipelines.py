"""Item pipelines of the IMDb crawl: validate, dedupe, store.

Every drop raises ``DropItem`` and is counted per reason in the crawl's stats
(``imdb/dropped/<reason>``), with the page and the item's place on it, so the report
can say what was left out and why. Storing is batched; a title's rows and its cursor
are committed together once its last page is handled (``TitleDone``).
"""

from __future__ import annotations

import re
from typing import Any

from scrapy.exceptions import DropItem
from sqlalchemy.exc import SQLAlchemyError

from timgen_data.collectors.imdb.items import ReviewItem, TitleDone, TitleItem
from timgen_data.collectors.imdb.middlewares import close_spider
from timgen_data.collectors.imdb.page_records import save_batch
from timgen_data.collectors.imdb.pages import TCONST
from timgen_data.errors import TimeValueError, TimgenError
from timgen_data.sources import SOURCES
from timgen_data.store import Store
from timgen_data.timeline import normalize_time

STORE_URL = "IMDB_STORE_URL"
SOURCE_ID = "IMDB_SOURCE_ID"
BATCH_ITEMS = "IMDB_BATCH_ITEMS"
STORE_ERROR = "store_error"
RATING_RANGE = SOURCES["imdb"].rating_scale  # reviewers rate 1 to 10 stars
_USER = re.compile(r"ur\d+")
MAX_KEPT = 200


def reject(crawler, item: Any, reason: str, message: str) -> DropItem:
    """Count a drop under ``reason``, keep where it happened, and return the ``DropItem`` to raise."""
    crawler.stats.inc_value(f"imdb/dropped/{reason}")
    drops = getattr(crawler.spider, "drops", None)
    if drops is not None and len(drops) < MAX_KEPT:
        if isinstance(item, ReviewItem):
            drops.append({"page": item.page_url, "position": item.position, "reason": reason, "message": message})
        else:
            drops.append({"page": getattr(item, "url", ""), "position": 0, "reason": reason, "message": message})
    return DropItem(message)


class ValidatePipeline:
    """Drops items that cannot be stored; turns a review's date and rating into ts and value."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: Any, spider=None) -> Any:
        if isinstance(item, TitleItem):
            if not TCONST.fullmatch(item.tconst):
                raise reject(self.crawler, item, "bad_tconst", f"{item.tconst!r} is not an IMDb title id")
            if not item.name:
                raise reject(self.crawler, item, "no_json_ld",
                             f"title page {item.url} has no schema.org JSON-LD with a name")
        elif isinstance(item, ReviewItem):
            self._check_review(item)
        return item

    def _check_review(self, item: ReviewItem) -> None:
        where = f"review {item.review_id or '(no id)'} of {item.tconst}"
        if not item.review_id:
            raise reject(self.crawler, item, "no_review_id", f"{where}: no data-review-id")
        if not item.user_id or not _USER.fullmatch(item.user_id):
            raise reject(self.crawler, item, "no_reviewer", f"{where}: no /user/ur… link to its reviewer")
        try:
            item.ts = normalize_time(item.date, record=where).ts
        except TimeValueError as exc:
            raise reject(self.crawler, item, "bad_date", str(exc)) from None
        if item.rating is None:
            item.value = None  # a review without a rating is still a comment
            return
        try:
            rating = float(item.rating)
        except ValueError:
            rating = float("nan")
        if not RATING_RANGE[0] <= rating <= RATING_RANGE[1]:
            raise reject(self.crawler, item, "bad_rating",
                         f"{where}: rating {item.rating!r} is not a number from {RATING_RANGE[0]:g} to {RATING_RANGE[1]:g}")
        item.value = rating


class DedupePipeline:
    """Drops a review already seen in this crawl (IMDb pages can repeat one across "load more")."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.seen: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: Any, spider=None) -> Any:
        if isinstance(item, ReviewItem):
            if item.review_id in self.seen:
                raise reject(self.crawler, item, "duplicate_review", f"review {item.review_id} seen before")
            self.seen.add(item.review_id)
        return item


class StorePipeline:
    """Batches items and writes them through the save functions; commits cursors with the rows."""

    def __init__(self, crawler):
        settings = crawler.settings
        self.crawler = crawler
        self.url = settings.get(STORE_URL)
        self.source_id = settings.getint(SOURCE_ID) or None
        self.batch_items = settings.getint(BATCH_ITEMS, 500)
        self.store: Store | None = None
        self.titles: list[TitleItem] = []
        self.reviews: list[ReviewItem] = []
        self.done: list[TitleDone] = []
        self.broken = False

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self, spider=None) -> None:
        try:
            self.store = Store.open(self.url)
        except (SQLAlchemyError, TimgenError) as exc:
            self._failed(exc)
            raise  # nothing can be stored: the crawl must not start

    def _failed(self, exc: Exception) -> None:
        self.broken = True
        message = f"{type(exc).__name__}: {exc}"
        self.crawler.stats.set_value("imdb/store_error", message)
        if self.crawler.spider is not None:
            self.crawler.spider.store_error = message  # the runner reports it; stats may not be open yet

    def process_item(self, item: Any, spider=None) -> Any:
        if isinstance(item, TitleItem):
            self.titles.append(item)
        elif isinstance(item, ReviewItem):
            self.reviews.append(item)
        elif isinstance(item, TitleDone):
            self.done.append(item)
            self.flush()
            return item
        if len(self.titles) + len(self.reviews) >= self.batch_items:
            self.flush()
        return item

    def close_spider(self, spider=None) -> None:
        self.flush()
        if self.store is not None:
            self.store.dispose()

    def flush(self) -> None:
        if self.broken or not (self.titles or self.reviews or self.done):
            return
        stats = self.crawler.stats
        try:
            with self.store.begin() as conn:
                written = save_batch(conn, self.titles, self.reviews, self.done, source_id=self.source_id)
        except (SQLAlchemyError, TimgenError) as exc:
            # Scrapy would log a pipeline error and go on crawling pages it cannot store.
            self._failed(exc)
            close_spider(self.crawler, STORE_ERROR)
            return
        for key, value in written.items():
            stats.inc_value(f"imdb/written/{key}", value)
        stats.inc_value("imdb/stored/reviews", len(self.reviews))
        stats.inc_value("imdb/titles_done", len(self.done))
        self.titles, self.reviews, self.done = [], [], []
