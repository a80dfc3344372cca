"""``collect imdb --titles``: crawl title and review pages in a child process (the parent side).

Twisted's reactor cannot be restarted within a process, so ``crawl_titles`` (the
parent side) never runs Scrapy itself: it writes the crawl's options to a private
file and starts ``python -m timgen_data.collectors.imdb.crawl OPTIONS`` (``crawl``), which runs
``CrawlerProcess``, writes through the store pipeline to the store named in the
options, and leaves its stats (items scraped, drops per reason, pages fetched,
robots.txt refusals) in a JSON file that the parent turns into a report. The child
announces each finished title on stdout, which the parent turns into progress.

The cursor is one ``collection_state`` row per title done (``title:<tconst>``), so a
re-run (of the same titles or more) only crawls what is left; ``refresh`` ignores it.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from timgen_data.collectors.imdb.middlewares import RATE_LIMITED
from timgen_data.collectors.imdb.names import (
    COLLECTOR,
    DONE_LINE,
    NAMESPACE,
    PAGES_LICENSE,
    SITE_URL,
    default_user_agent,
)
from timgen_data.collectors.imdb.page_records import cursor_key, title_is_done
from timgen_data.collectors.imdb.pages import TCONST
from timgen_data.collectors.imdb.raw import page_key, public_url, read_pages, recorded_base, recorded_titles
from timgen_data.collectors.imdb.settings import CrawlOptions
from timgen_data.collectors.report import CollectReport, Rejection, Rejections
from timgen_data.collectors.save import begin_source, finish_source
from timgen_data.errors import DownloadError, RateLimitError, StoreError, UsageError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, load_cursor, to_json

logger = logging.getLogger(__name__)

# Time the child may take beyond CLOSESPIDER_TIMEOUT to close cleanly before it is killed.
_GRACE_SECONDS = 120.0


@dataclass
class CrawlReport(CollectReport):
    """A crawl's report: the common counts plus how the crawl ended and what it could not fetch."""

    finish_reason: str = "finished"
    dropped: dict[str, int] = field(default_factory=dict)
    robots_forbidden: list[str] = field(default_factory=list)
    failed_pages: dict[str, str] = field(default_factory=dict)
    resume_hint: str | None = None
    resume_at: int | None = None  # UTC epoch seconds, when rate-limited and the server said
    raw_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "finish_reason": self.finish_reason, "dropped": self.dropped,
                "robots_forbidden": self.robots_forbidden, "failed_pages": self.failed_pages,
                "resume_hint": self.resume_hint, "resume_at": self.resume_at, "raw_file": self.raw_file}


def crawl_titles(
    store: Store,
    titles: Sequence[str] = (),
    *,
    data_dir: Path,
    base_url: str | None = None,
    reviews: bool | None = None,
    max_review_pages: int = 5,
    delay: float = 1.0,
    user_agent: str | None = None,
    http_cache: Path | None = None,
    load: Path | None = None,
    refresh: bool = False,
    time_limit: float = 6 * 3600.0,
    concurrency: int = 2,
    progress: Progress = SILENT,
) -> CrawlReport:
    """Crawl the title pages (and review pages) of ``titles`` into ``store``.

    ``reviews``: also crawl review pages; None means no, except with ``load``, where
    pages come from a raw file a live crawl saved (no network) and the titles, the base
    URL and whether reviews were crawled default to what the file holds.

    >>> crawl_titles(store, ["tt0133093"], data_dir=Path("timgen-data"))  # doctest: +SKIP
    """
    asked = _check_titles(titles)
    if max_review_pages < 1:
        raise UsageError("--max-review-pages must be at least 1")
    if delay < 0 or concurrency < 1 or time_limit <= 0:
        raise UsageError("--delay must be >= 0, concurrency >= 1 and the time limit > 0")
    load_rejections = Rejections()  # lines of the --load file that hold no page
    if load is not None:
        records = read_pages(Path(load), load_rejections)
        base_url = base_url or recorded_base(records) or SITE_URL
        asked = asked or recorded_titles(records)
        if reviews is None:
            reviews = any(page_key(r["url"]).split("?")[0].endswith("/reviews/") for r in records)
        if not asked:
            raise UsageError(f"--load {load} holds no title pages; give --titles")
    elif not asked:
        raise UsageError("give --titles tt0133093,... (IMDb title ids)")
    reviews = bool(reviews)
    if store.dialect == "sqlite" and store.engine.url.database in (None, "", ":memory:"):
        raise UsageError("the crawl writes from a process of its own, which cannot see an in-memory store; "
                         "use a SQLite file or a PostgreSQL URL")
    base = (base_url or SITE_URL).rstrip("/")
    if public_url(base) != base:
        # Pages, reports and the raw file all carry URLs; a login in one would leak everywhere.
        raise UsageError("--base-url must not hold a login (user:password@); set a proxy's login in "
                         "HTTPS_PROXY / HTTP_PROXY instead")
    spec = {"base_url": public_url(base), "titles": sorted(asked), "reviews": reviews,
            "max_review_pages": max_review_pages}
    spec_sha = hashlib.sha256(to_json(spec).encode()).hexdigest()
    raw_path = Path(data_dir) / "raw" / COLLECTOR / f"crawl-{spec_sha[:16]}.jsonl"

    with store.begin() as conn:
        source_id = begin_source(conn, collector=COLLECTOR, variant="pages", namespace=NAMESPACE,
                                 url=public_url(base), sha256=spec_sha, md5=None, license=PAGES_LICENSE)
        todo = [t for t in asked if refresh or not title_is_done(
            load_cursor(conn, COLLECTOR, cursor_key(t)), reviews=reviews, max_review_pages=max_review_pages)]
    report = CrawlReport(COLLECTOR, "pages", NAMESPACE, str(load) if load else public_url(base), spec_sha,
                         raw_file=None if load else str(raw_path))
    report.skipped["titles_already_done"] = len(asked) - len(todo)
    if todo:
        options = CrawlOptions(
            store_url=store.engine.url.render_as_string(hide_password=False), titles=todo, base_url=base,
            reviews=reviews, max_review_pages=max_review_pages, delay=delay,
            user_agent=user_agent or default_user_agent(),
            http_cache=str(Path(http_cache).resolve()) if http_cache else None,
            raw_path=None if load else str(raw_path.resolve()),
            load_path=str(Path(load).resolve()) if load else None,
            source_id=source_id, time_limit=time_limit, concurrency=concurrency,
        )
        result = _run_child(options, progress)
        _fill_report(report, result, len(todo))
        report.rejections.extend(load_rejections)  # after _fill_report, which sets the crawl's own count
        with store.begin() as conn:
            # One row per request spec, run after run: its counts add up over the runs.
            before = fetch_rows(conn, "SELECT counts FROM sources WHERE id = :id", {"id": source_id})[0][0]
            counts = _add_counts(json.loads(before or "{}"), {**report.stored, "rejected": report.rejections.count})
            finish_source(conn, source_id, {**counts, "finish_reason": report.finish_reason})
    if report.finish_reason == RATE_LIMITED:
        error = RateLimitError(report.resume_hint or "IMDb rate-limited the crawl; re-run later to resume",
                               resume_at=report.resume_at)
        error.report = report
        raise error
    return report


def _add_counts(before: dict[str, Any], now: dict[str, int]) -> dict[str, Any]:
    return {**before, **{k: int(before.get(k, 0)) + v if isinstance(before.get(k, 0), int) else v
                         for k, v in now.items()}}


def _check_titles(titles: Sequence[str]) -> list[str]:
    asked = list(dict.fromkeys(t.strip() for t in titles if t and t.strip()))
    bad = [t for t in asked if not TCONST.fullmatch(t)]
    if bad:
        raise UsageError(f"not IMDb title ids: {', '.join(bad)}; they look like tt0133093")
    return asked


def _run_child(options: CrawlOptions, progress: Progress) -> dict[str, Any]:
    """Run the crawl in a child process; returns what it wrote to its stats file."""
    work = Path(tempfile.mkdtemp(prefix="timgen-imdb-"))  # 0700: the options may hold a store password
    try:
        config = work / "options.json"
        fd = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"options": asdict(options), "stats_path": str(work / "stats.json"),
                       "log_path": str(work / "crawl.log")}, handle)
        task = "crawl imdb titles"
        progress.start(task, total=len(options.titles), unit="titles")
        with (work / "stderr.txt").open("wb") as stderr:
            child = subprocess.Popen(
                [sys.executable, "-m", "timgen_data.collectors.imdb.crawl", str(config)],
                stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, text=True,
            )
            # A hard stop past the crawl's own time limit, should the child hang.
            watchdog = threading.Timer(options.time_limit + _GRACE_SECONDS, child.kill)
            watchdog.daemon = True
            watchdog.start()
            try:
                assert child.stdout is not None
                for line in child.stdout:
                    if line.strip() == DONE_LINE:
                        progress.advance(task, 1)
                child.wait()
            finally:
                watchdog.cancel()
                if child.poll() is None:  # interrupted (Ctrl-C): the child must not outlive us
                    child.terminate()
                    try:
                        child.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        child.kill()
                        child.wait()
        progress.finish(task)
        _forward_log(work / "crawl.log")
        stats_file = work / "stats.json"
        if not stats_file.exists():
            tail = (work / "stderr.txt").read_text(encoding="utf-8", errors="replace")[-2000:].strip()
            raise DownloadError(
                f"the IMDb crawl process ended (exit code {child.returncode}) without a result"
                f"{': ' + tail if tail else ''}. Titles finished before it stopped are stored; re-run to resume."
            )
        result = json.loads(stats_file.read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    error = result.get("error")
    if error:
        kind = StoreError if error.get("store") else DownloadError
        raise kind(f"the IMDb crawl failed: {error['message']}. Titles finished before it are stored; "
                   "re-run to resume.")
    return result


def _forward_log(path: Path) -> None:
    """Scrapy's warnings from the child, into this process's logging (never printed by us)."""
    if path.exists():
        with path.open(encoding="utf-8", errors="replace") as lines:  # line by line: a long crawl logs a lot
            for line in lines:
                logger.debug("crawl: %s", line.rstrip("\n"))


def _fill_report(report: CrawlReport, result: dict[str, Any], todo: int) -> None:
    stats: dict[str, Any] = result.get("stats", {})

    def stat(name: str) -> int:
        value = stats.get(name, 0)
        return int(value) if isinstance(value, (int, float)) else 0

    report.finish_reason = result.get("finish_reason") or "unknown"
    report.dropped = {k.removeprefix("imdb/dropped/"): int(v) for k, v in stats.items()
                      if k.startswith("imdb/dropped/")}
    report.robots_forbidden = list(result.get("forbidden", []))
    report.failed_pages = dict(result.get("failed", {}))
    report.read = {"pages": stat("response_received_count"), "titles": stat("imdb/read/titles"),
                   "reviews": stat("imdb/read/reviews")}
    report.written = {k: stat(f"imdb/written/{k}") for k in ("titles", "interactions", "assets", "links")}
    report.stored = {"titles_done": stat("imdb/titles_done"), "reviews": stat("imdb/stored/reviews")}
    report.skipped.update({
        "duplicate_reviews": report.dropped.get("duplicate_review", 0),
        "robots_forbidden": stat("robotstxt/forbidden"),
        "failed_pages": stat("imdb/failed_pages"),
        "titles_not_finished": max(0, todo - stat("imdb/titles_done")),
    })
    for drop in result.get("drops", []):
        if drop["reason"] != "duplicate_review":
            report.rejections.add(Rejection(drop["page"], int(drop["position"]), drop["message"]))
    # Drops past the kept ones still count.
    report.rejections.count = sum(v for k, v in report.dropped.items() if k != "duplicate_review")
    if report.finish_reason == RATE_LIMITED:
        report.resume_at = _resume_at(stats.get("imdb/retry_after"))
        if report.resume_at is None:
            report.resume_hint = ("IMDb rate-limited the crawl (HTTP 429); wait a while (an hour is safe) and re-run "
                                  "the same command to resume")
        else:
            when = datetime.fromtimestamp(report.resume_at, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            report.resume_hint = (f"IMDb rate-limited the crawl (HTTP 429); re-run the same command after {when} "
                                  "to resume")


def _resume_at(retry_after: str | None) -> int | None:
    """UTC epoch seconds when the server said to come back (Retry-After: seconds or an HTTP date)."""
    wait = None
    if retry_after:
        text = retry_after.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            wait = float(text)
        else:
            try:
                when = email.utils.parsedate_to_datetime(text)
                wait = (when - datetime.now(timezone.utc)).total_seconds() if when.tzinfo else None
            except (TypeError, ValueError):
                wait = None
    if wait is None:
        return None
    return int(time.time() + max(0.0, wait)) + 1  # rounded up: never earlier than asked
