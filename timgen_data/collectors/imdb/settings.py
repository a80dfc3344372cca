"""Scrapy settings of the IMDb crawl: polite, bounded, silent.

Polite: robots.txt obeyed, AutoThrottle on top of a base delay, a User-Agent that
says who is asking, two concurrent requests, no cookies. Bounded: depth, page count
and wall time all have limits, and retries are few. Silent: Scrapy's own logging is
off (the runner routes warnings to a log file); library code never prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from timgen_data.collectors.imdb import middlewares, pipelines

_MODULE = "timgen_data.collectors.imdb"
# Pages one title can cost: its page, its review pages, and Scrapy's retries of each.
_RETRY_TIMES = 2


@dataclass(frozen=True)
class CrawlOptions:
    """What the user chose; everything here is plain JSON for the child process."""

    store_url: str
    titles: list[str]
    base_url: str
    reviews: bool = True
    max_review_pages: int = 5
    delay: float = 1.0
    user_agent: str = ""
    http_cache: str | None = None
    raw_path: str | None = None  # live: where pages are appended
    load_path: str | None = None  # replay: the file pages come from
    source_id: int | None = None
    time_limit: float = 6 * 3600.0
    concurrency: int = 2
    batch_items: int = 500

    def page_limit(self) -> int:
        per_title = 1 + (self.max_review_pages if self.reviews else 0)
        return (1 + _RETRY_TIMES) * per_title * len(self.titles) + 10  # + robots.txt and slack


def crawl_settings(options: CrawlOptions) -> dict[str, Any]:
    replay = options.load_path is not None
    recorder = f"{_MODULE}.middlewares.{'ReplayPagesMiddleware' if replay else 'RecordPagesMiddleware'}"
    settings: dict[str, Any] = {
        "BOT_NAME": "timgen-data",
        "USER_AGENT": options.user_agent,
        "ROBOTSTXT_OBEY": True,
        # A replay touches no server: nothing to be polite to, so no waiting.
        "DOWNLOAD_DELAY": 0.0 if replay else options.delay,
        "AUTOTHROTTLE_ENABLED": not replay,
        "AUTOTHROTTLE_START_DELAY": options.delay,
        "AUTOTHROTTLE_MAX_DELAY": max(60.0, options.delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "CONCURRENT_REQUESTS": options.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": options.concurrency,
        # One item at a time keeps a title's reviews ahead of its TitleDone in the pipelines.
        "CONCURRENT_ITEMS": 1,
        "COOKIES_ENABLED": False,
        "DOWNLOAD_TIMEOUT": 30,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": _RETRY_TIMES,
        # 429 is not retried: RateLimitMiddleware stops the crawl instead.
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        "DEPTH_LIMIT": options.max_review_pages + 1,  # a backstop: the spider stops at max_review_pages
        "CLOSESPIDER_TIMEOUT": options.time_limit,
        "CLOSESPIDER_PAGECOUNT": options.page_limit(),
        "HTTPCACHE_ENABLED": bool(options.http_cache) and not replay,
        "HTTPCACHE_DIR": options.http_cache or "httpcache",
        "HTTPCACHE_EXPIRATION_SECS": 0,
        "HTTPCACHE_IGNORE_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "LOG_ENABLED": False,
        "LOG_INSTALL_ROOT_HANDLER": False,  # the child process routes warnings to its log file
        # Both would open a port for the length of the crawl.
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "EXTENSIONS": {"scrapy.extensions.telnet.TelnetConsole": None},
        "DOWNLOADER_MIDDLEWARES": {
            f"{_MODULE}.middlewares.RateLimitMiddleware": 560,
            recorder: 585,
        },
        "ITEM_PIPELINES": {
            f"{_MODULE}.pipelines.ValidatePipeline": 100,
            f"{_MODULE}.pipelines.DedupePipeline": 200,
            f"{_MODULE}.pipelines.StorePipeline": 300,
        },
        pipelines.STORE_URL: options.store_url,
        pipelines.SOURCE_ID: options.source_id or 0,
        pipelines.BATCH_ITEMS: options.batch_items,
        middlewares.RAW_PATH: None if replay else options.raw_path,
        middlewares.LOAD_PATH: options.load_path,
    }
    return settings
