"""``collect twitter``: X API v2 recent search or user timelines into the store, resumably.

Live runs fetch page by page. Each response is appended to the run's raw file first, then
stored; a page's rows, its likers (with ``engagement``) and its cursor commit in one
transaction, so a run killed or rate-limited at any point re-runs from the first page not
committed and never stores a row twice. ``--load`` replays a raw file through the same
processing (``process.py``) without network or token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from timgen_data.collectors.save import begin_source, finish_source, namespace_counts
from timgen_data.collectors.twitter import cursor
from timgen_data.collectors.twitter.client import XClient, public_url
from timgen_data.collectors.twitter.credentials import bearer_token
from timgen_data.collectors.twitter.parse import parse_liking_users, parse_tweet_page, parse_user_lookup
from timgen_data.collectors.twitter.process import ResponseProcessor, XReport
from timgen_data.collectors.twitter.raw import RESPONSE, RUN, RawLog, RawResponse, read_raw
from timgen_data.collectors.twitter.spec import (
    COLLECTOR,
    DEFAULT_BASE_URL,
    LICENSE,
    MAX_PAGE,
    NAMESPACE,
    SEARCH_MIN_PAGE,
    SEARCH_PATH,
    TIMELINE_MIN_PAGE,
    USER_FIELDS,
    USERS_BY_PATH,
    USERS_PER_LOOKUP,
    XRequest,
    page_size,
    spec_sha256,
)
from timgen_data.downloads.checksums import file_digests
from timgen_data.downloads.download import client_scope
from timgen_data.errors import RateLimitError, UsageError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, load_cursor, models

PAGES_TASK = "X API pages"


def raw_path(data_dir: Path, request: XRequest) -> Path:
    """Where live runs of ``request`` append their raw responses."""
    return Path(data_dir) / "raw" / COLLECTOR / f"{request.run_key}.jsonl"


def collect_twitter(
    store: Store,
    request: XRequest,
    *,
    data_dir: Path,
    base_url: str = DEFAULT_BASE_URL,
    credentials_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    max_wait: float = 900.0,
    progress: Progress = SILENT,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> XReport:
    """Collect the posts ``request`` asks for (and their likers with ``engagement``).

    Raises ``RateLimitError`` (carrying the partial report) when a rate limit resets more
    than ``max_wait`` seconds away; everything before it is stored and a re-run resumes.

    >>> request = XRequest.build(query="#movie has:media", max_results=200)           # doctest: +SKIP
    >>> collect_twitter(store, request, data_dir=Path("timgen-data")).written          # doctest: +SKIP
    {'interactions': 187, 'assets': 96}
    """
    token = bearer_token(credentials_file, environ)
    if max_wait < 0:
        raise UsageError(f"--max-wait must be 0 or more seconds, not {max_wait}")
    path = raw_path(data_dir, request)
    url = public_url(base_url) + (SEARCH_PATH if request.kind == "search" else USERS_BY_PATH)
    report = XReport(COLLECTOR, request.kind, NAMESPACE, url, request.sha256)
    processor = ResponseProcessor(report, path.name)
    with store.begin() as conn:
        processor.source_id = begin_source(conn, collector=COLLECTOR, variant=request.kind, namespace=NAMESPACE,
                                           url=url, sha256=request.sha256, md5=None, license=LICENSE)
    with RawLog(path) as log, client_scope(client) as http:
        log.start_run(request.canonical(), url, int(clock()))
        api = XClient(token, http=http, base_url=base_url, max_wait=max_wait, sleep=sleep, clock=clock,
                      on_response=log.append)
        run = _LiveRun(store, request, api, processor, progress)
        progress.start(PAGES_TASK, total=None, unit="pages")
        try:
            for target in run.targets():
                run.walk(target)
        except RateLimitError as exc:
            _close(store, processor, "stopped")
            exc.report = report
            raise
        progress.finish(PAGES_TASK)
    _close(store, processor, "complete")
    return report


def replay_twitter(store: Store, path: Path, *, progress: Progress = SILENT) -> XReport:
    """Store what a raw file (from live runs, or written by hand in the same shape) holds.

    >>> replay_twitter(store, Path("timgen-data/raw/twitter/search-0123abcd.jsonl"))  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--load {path} is not a file; give a raw file from <data dir>/raw/twitter/")
    report: XReport | None = None
    processor: ResponseProcessor | None = None
    progress.start(PAGES_TASK, total=None, unit="responses")
    for line, entry in read_raw(path):
        kind = entry.get("kind", RESPONSE if "path" in entry else None) if entry else None
        if kind == RUN:
            spec = entry.get("spec") or {}
            if processor is not None and processor.source_id is not None:
                _finish(store, processor, "complete")
            if report is None:
                report = XReport(COLLECTOR, str(spec.get("kind", "load")), NAMESPACE, str(path), spec_sha256(spec))
                processor = ResponseProcessor(report, path.name)
            with store.begin() as conn:
                processor.source_id = begin_source(
                    conn, collector=COLLECTOR, variant=str(spec.get("kind", "load")), namespace=NAMESPACE,
                    url=entry.get("url"), sha256=spec_sha256(spec), md5=None, license=LICENSE)
            continue
        if report is None:  # a hand-written file without run lines: the file itself names the run
            digest, _md5 = file_digests(path)  # read in blocks: a replay file can be large
            report = XReport(COLLECTOR, "load", NAMESPACE, str(path), digest)
            processor = ResponseProcessor(report, path.name)
            with store.begin() as conn:
                processor.source_id = begin_source(conn, collector=COLLECTOR, variant="load", namespace=NAMESPACE,
                                                   url=None, sha256=digest, md5=None, license=LICENSE)
        if kind != RESPONSE:
            processor.reject(line, "not a raw X API response line")
            continue
        try:
            response = RawResponse.from_json(entry, line)
        except (KeyError, TypeError, ValueError):
            processor.reject(line, "a response line without a path or with a non-numeric status")
            continue
        with store.begin() as conn:
            processor.apply(conn, response)
        progress.advance(PAGES_TASK)
    progress.finish(PAGES_TASK)
    if report is None:
        raise UsageError(f"--load {path} holds no responses")
    _close(store, processor, "complete")
    return report


@dataclass(frozen=True)
class _Target:
    """One walk down pages of posts: a search query or one user's timeline."""

    key: str  # its cursor in collection_state
    endpoint: str  # its rate-limit bucket
    path: str
    token_param: str  # next_token (search) or pagination_token (timelines)
    min_page: int
    params: dict[str, str]


class _LiveRun:
    def __init__(self, store: Store, request: XRequest, api: XClient, processor: ResponseProcessor,
                 progress: Progress) -> None:
        self.store, self.request, self.api, self.processor, self.progress = store, request, api, processor, progress

    def targets(self) -> Iterator[_Target]:
        request = self.request
        if request.query is not None:
            params = {"query": request.query, **request.tweet_params()}
            yield _Target(cursor.search_key(request.query), "search", SEARCH_PATH, cursor.SEARCH_TOKEN,
                          SEARCH_MIN_PAGE, params)
            return
        for start in range(0, len(request.users), USERS_PER_LOOKUP):
            names = request.users[start:start + USERS_PER_LOOKUP]
            params = {"usernames": ",".join(names), "user.fields": USER_FIELDS}
            response = self.api.get("users/by", USERS_BY_PATH, params)
            with self.store.begin() as conn:
                self.processor.apply(conn, response)
            found = dict(parse_user_lookup(_body(response)).found)  # id -> username
            for user_id in found:
                yield _Target(cursor.user_key(user_id), "users/:id/tweets", f"/2/users/{user_id}/tweets",
                              cursor.TIMELINE_TOKEN, TIMELINE_MIN_PAGE, request.tweet_params())

    def walk(self, target: _Target) -> None:
        """Pages of ``target`` until the end, ``--max-results`` posts, or a bounded number of pages."""
        with self.store.begin() as conn:
            state = load_cursor(conn, COLLECTOR, target.key)
        params = {**target.params, **cursor.resume_params(state, target.token_param)}
        fetched = 0
        # Every useful page holds at least one post, so this many pages can never cut a run short.
        for _ in range(self.request.max_results):
            params["max_results"] = str(page_size(self.request.max_results - fetched, target.min_page))
            response = self.api.get(target.endpoint, target.path, dict(params))
            page = parse_tweet_page(_body(response))
            likers = [like for post_id in page.post_ids for like in self._likers(post_id)] \
                if self.request.engagement else []
            with self.store.begin() as conn:  # the page, its likers and its cursor: all or nothing
                self.processor.apply(conn, response)
                for like in likers:
                    self.processor.apply(conn, like)
            self.progress.advance(PAGES_TASK)
            fetched += len(_body(response).get("data") or [])
            if not page.next_token:
                return
            if fetched >= self.request.max_results:
                self.processor.report.count(self.processor.report.skipped, "walks_left_for_the_next_run")
                return
            params[target.token_param] = page.next_token
        self.processor.report.count(self.processor.report.skipped, "walks_left_for_the_next_run")

    def _likers(self, post_id: str) -> list[RawResponse]:
        """Pages of a post's likers, at most ``--max-results`` users."""
        limit, got, pages = self.request.max_results, 0, []
        params = {"user.fields": USER_FIELDS}
        for _ in range(limit):
            params["max_results"] = str(min(MAX_PAGE, limit - got))
            response = self.api.get("tweets/:id/liking_users", f"/2/tweets/{post_id}/liking_users", dict(params))
            pages.append(response)
            likers = parse_liking_users(_body(response))
            got += len(likers.users)
            if not likers.next_token or got >= limit or not likers.users:
                break
            params["pagination_token"] = likers.next_token
        return pages


def _body(response: RawResponse) -> dict:
    return response.body if isinstance(response.body, dict) else {}


def _close(store: Store, processor: ResponseProcessor, status: str) -> None:
    with store.begin() as conn:
        processor.report.stored = namespace_counts(conn, NAMESPACE)
    _finish(store, processor, status)


def _finish(store: Store, processor: ResponseProcessor, status: str) -> None:
    report = processor.report
    counts = {**report.read, **{f"new_{k}": v for k, v in report.written.items()}, "rejected": report.rejections.count}
    with store.begin() as conn:
        finish_source(conn, processor.source_id, counts)
        if status != "complete":
            conn.execute(models.sources.update().where(models.sources.c.id == processor.source_id)
                         .values(status=status))
