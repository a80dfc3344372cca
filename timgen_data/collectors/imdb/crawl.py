"""The crawl's child process: ``python -m timgen_data.collectors.imdb.crawl OPTIONS.json``.

Runs one Scrapy ``CrawlerProcess`` (the Twisted reactor runs once per process, which is
why ``run.crawl_titles`` starts this in a process of its own), announces each finished
title on stdout for the parent's progress, and writes the crawl's stats, the pages
robots.txt forbade, failed pages and dropped items to the stats file the parent reads.
Scrapy's warnings go to the log file named in the options, never to the terminal.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from timgen_data.collectors.imdb.names import DONE_LINE
from timgen_data.collectors.imdb.settings import CrawlOptions
from timgen_data.errors import StoreError


def run_crawl(options: CrawlOptions) -> dict[str, Any]:
    """Run the crawl in this process (once per process: the reactor cannot restart)."""
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from timgen_data.collectors.imdb.items import ReviewItem, TitleDone, TitleItem
    from timgen_data.collectors.imdb.settings import crawl_settings
    from timgen_data.collectors.imdb.spider import ImdbSpider

    process = CrawlerProcess(crawl_settings(options))
    crawler = process.create_crawler(ImdbSpider)
    outcome: dict[str, Any] = {}

    def scraped(item, **_kwargs) -> None:
        if isinstance(item, TitleDone):
            sys.stdout.write(DONE_LINE + "\n")
            sys.stdout.flush()

    def reached(item, **_kwargs) -> None:
        # Counted before validation: what the pages held, not what was kept.
        if isinstance(item, TitleItem):
            crawler.stats.inc_value("imdb/read/titles")
        elif isinstance(item, ReviewItem):
            crawler.stats.inc_value("imdb/read/reviews")

    def closed(reason, **_kwargs) -> None:
        outcome["finish_reason"] = reason
        outcome["stats"] = {k: v for k, v in crawler.stats.get_stats().items()
                            if isinstance(v, (int, float, str, bool))}

    crawler.signals.connect(scraped, signal=signals.item_scraped)
    crawler.signals.connect(reached, signal=signals.item_scraped)
    crawler.signals.connect(reached, signal=signals.item_dropped)
    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler, titles=options.titles, base_url=options.base_url, reviews=options.reviews,
                  max_review_pages=options.max_review_pages)
    process.start()
    spider = crawler.spider
    outcome.setdefault("stats", {k: v for k, v in crawler.stats.get_stats().items()
                                 if isinstance(v, (int, float, str, bool))})
    outcome["forbidden"] = spider.forbidden if spider else []
    outcome["failed"] = spider.failed if spider else {}
    outcome["drops"] = spider.drops if spider else []
    store_error = getattr(spider, "store_error", None) or outcome["stats"].get("imdb/store_error")
    if store_error:
        outcome["error"] = {"message": store_error, "store": True}
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    """Child entry point: ``python -m timgen_data.collectors.imdb.crawl OPTIONS.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    config = json.loads(Path(args[0]).read_text(encoding="utf-8"))
    handler = logging.FileHandler(config["log_path"], encoding="utf-8")
    handler.setLevel(logging.WARNING)  # Scrapy's own loggers are set to DEBUG
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    try:
        result = run_crawl(CrawlOptions(**config["options"]))
    except Exception as exc:  # noqa: BLE001  reported to the parent, which raises a typed error
        logging.getLogger(__name__).exception("crawl failed")
        result = {"error": {"message": f"{type(exc).__name__}: {exc}", "store": isinstance(exc, StoreError)}}
    if "error" not in result and "finish_reason" not in result:
        # Scrapy logs (and swallows) a failure to start, such as a pipeline that cannot open the store.
        problems = [line for line in Path(config["log_path"]).read_text(encoding="utf-8").splitlines()
                    if " ERROR " in line or " CRITICAL " in line]
        result = {"error": {"message": f"the crawl did not run ({problems[-1] if problems else 'no error logged'})",
                            "store": False}}
    Path(config["stats_path"]).write_text(json.dumps(result, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
