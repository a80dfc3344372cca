"""The IMDb spider: title pages, then their user-review pages, following "load more".

It only extracts (``pages`` does the parsing) and yields typed items; validation,
deduplication and storing are the pipelines' work. Each title's pages form one
chain (title page → reviews page 1 → 2 → ...), so when the chain ends the spider
yields ``TitleDone`` and the store pipeline commits the title with its cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import TextResponse

from timgen_data.collectors.imdb.items import TitleDone
from timgen_data.collectors.imdb.pages import parse_review_page, parse_title_page, reviews_url, title_url

ROBOTS_MESSAGE = "robots.txt"  # what Scrapy's RobotsTxtMiddleware says when it forbids a request
MAX_KEPT = 200


class ImdbSpider(scrapy.Spider):
    name = "imdb"

    def __init__(self, titles: list[str], base_url: str, reviews: bool = True, max_review_pages: int = 5,
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.titles = list(titles)
        self.base_url = base_url.rstrip("/")
        self.reviews = reviews
        self.max_review_pages = max_review_pages
        # Offsite requests (a "load more" link to another host) are dropped: the crawl stays on the site.
        host = urlsplit(self.base_url).hostname
        self.allowed_domains = [host] if host else []
        # What the runner reports: pages robots.txt forbade, pages that failed, items dropped.
        self.forbidden: list[str] = []
        self.failed: dict[str, str] = {}
        self.drops: list[dict[str, Any]] = []
        self.store_error: str | None = None  # set by the store pipeline when the store fails

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for request in self.start_requests():
            yield request

    def start_requests(self) -> Iterator[scrapy.Request]:
        for tconst in self.titles:
            yield scrapy.Request(title_url(self.base_url, tconst), callback=self.parse_title,
                                 errback=self.page_failed, cb_kwargs={"tconst": tconst, "page": 0})

    def parse_title(self, response: TextResponse, tconst: str, page: int) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            self._fail(response.url, f"not a text page ({response.headers.get('Content-Type')})")
            return
        yield parse_title_page(response.text, response.url, tconst)
        if not self.reviews:
            yield TitleDone(tconst, reviews=False)
            return
        yield scrapy.Request(reviews_url(self.base_url, tconst), callback=self.parse_reviews,
                             errback=self.page_failed, cb_kwargs={"tconst": tconst, "page": 1})

    def parse_reviews(self, response: TextResponse, tconst: str, page: int) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            self._fail(response.url, f"not a text page ({response.headers.get('Content-Type')})")
            return
        parsed = parse_review_page(response.text, response.url, tconst)
        yield from parsed.reviews
        if parsed.next_url and page < self.max_review_pages:
            yield scrapy.Request(parsed.next_url, callback=self.parse_reviews, errback=self.page_failed,
                                 cb_kwargs={"tconst": tconst, "page": page + 1})
        else:
            yield TitleDone(tconst, reviews=True, review_pages=page, reviews_complete=parsed.next_url is None)

    def page_failed(self, failure) -> Iterator[Any]:
        request = failure.request
        tconst, page = request.cb_kwargs["tconst"], request.cb_kwargs["page"]
        if failure.check(IgnoreRequest) and ROBOTS_MESSAGE in str(failure.value):
            if len(self.forbidden) < MAX_KEPT:
                self.forbidden.append(request.url)
            if page > 0:
                # The title page is stored; its reviews are as complete as robots.txt allows.
                yield TitleDone(tconst, reviews=True, review_pages=page - 1, robots_forbidden=True)
            return
        # No TitleDone: the title keeps no cursor, so the next run fetches it again.
        self._fail(request.url, _describe(failure))

    def _fail(self, url: str, reason: str) -> None:
        if len(self.failed) < MAX_KEPT:
            self.failed[url] = reason
        self.crawler.stats.inc_value("imdb/failed_pages")


def _describe(failure) -> str:
    value = failure.value
    response = getattr(value, "response", None)
    if response is not None:  # HttpError from HttpErrorMiddleware
        return f"HTTP {response.status}"
    text = str(value)
    return f"{type(value).__name__}: {text}" if text else type(value).__name__
