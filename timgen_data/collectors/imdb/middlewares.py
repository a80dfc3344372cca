"""Downloader middlewares of the IMDb crawl: record pages, replay them, stop on rate limits.

Placed between Retry (550) and HttpCompression (590) so that the recorder sees each
response decompressed and before a retry replaces it, and the replayer's responses
pass through Retry exactly as the network's did.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.defer import deferred_from_coro

from timgen_data.collectors.imdb.raw import PageWriter, page_key, page_record, read_pages, record_body, replay_index

logger = logging.getLogger(__name__)

RAW_PATH = "IMDB_RAW_PATH"
LOAD_PATH = "IMDB_LOAD_PATH"
RATE_LIMITED = "rate_limited"
NOT_RECORDED = "not in the replay file"


def close_spider(crawler, reason: str) -> None:
    """Ask the engine to stop the crawl (from a middleware or pipeline, where CloseSpider does not work)."""
    engine = crawler.engine
    if hasattr(engine, "close_spider_async"):
        crawler._timgen_closing = deferred_from_coro(engine.close_spider_async(reason=reason))
    else:  # Scrapy before 2.14
        crawler._timgen_closing = engine.close_spider(crawler.spider, reason)


class RecordPagesMiddleware:
    """Appends every response the spider receives to the raw JSON-lines file."""

    def __init__(self, crawler):
        path = crawler.settings.get(RAW_PATH)
        if not path:
            raise NotConfigured
        self.writer = PageWriter(path)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response: Response, spider=None) -> Response:
        encoding = response.encoding if isinstance(response, TextResponse) else None
        content_type = response.headers.get(b"Content-Type")
        self.writer.write(page_record(
            response.url, response.status, content_type.decode("latin-1") if content_type else None,
            response.body, encoding,
        ))
        return response

    def spider_closed(self, spider=None) -> None:
        self.writer.close()


class ReplayPagesMiddleware:
    """Answers every request from a raw file instead of the network; unrecorded pages are ignored."""

    def __init__(self, crawler):
        path = crawler.settings.get(LOAD_PATH)
        if not path:
            raise NotConfigured
        self.pages = replay_index(read_pages(path))
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request, spider=None) -> Response:
        record = self.pages.get(page_key(request.url))
        if record is None:
            self.stats.inc_value("imdb/replay/missing")
            raise IgnoreRequest(f"{page_key(request.url)} is {NOT_RECORDED}")
        content_type = record.get("content_type") or ""
        cls = HtmlResponse if "html" in content_type else TextResponse if record.get("encoding") else Response
        kwargs: dict[str, Any] = {}
        if cls is not Response and record.get("encoding"):
            kwargs["encoding"] = record["encoding"]
        headers = {"Content-Type": content_type} if content_type else {}
        return cls(url=request.url, status=int(record["status"]), headers=headers, body=record_body(record),
                   request=request, **kwargs)


class RateLimitMiddleware:
    """Stops the crawl cleanly at the first 429 (or 503 with Retry-After).

    Retrying into a rate limit only prolongs it; titles not finished keep no cursor,
    so the next run resumes with them. The wait the server asked for is kept in the
    stats for the message that says when to resume.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request, response: Response, spider=None) -> Response:
        retry_after = response.headers.get(b"Retry-After")
        if response.status == 429 or (response.status == 503 and retry_after):
            self.stats.inc_value("imdb/rate_limited")
            if retry_after:
                self.stats.set_value("imdb/retry_after", retry_after.decode("latin-1"))
            if not self.stats.get_value("imdb/rate_limited_closing"):
                logger.warning("HTTP %s at %s (Retry-After: %s): stopping the crawl", response.status, request.url,
                               retry_after.decode("latin-1") if retry_after else "not given")
                self.stats.set_value("imdb/rate_limited_closing", True)
                close_spider(self.crawler, RATE_LIMITED)
            raise IgnoreRequest(f"rate limited (HTTP {response.status}) at {request.url}")
        return response
