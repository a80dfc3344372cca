"""``collect twitter``: X API v2 recent search or user timelines into the store, resumably.

What is X's own lives here: the requests a run pages through (a search query, or a user
lookup and then each user's timeline, with each post's likers under ``--engagement``).
Everything every API source shares (the raw log, ``--load`` replay, the credentials, the
cursors, the ``sources`` row and the report) is the runner's (``collectors.api``); the
parse and save of one response is ``process.XSource.apply``.

A page's rows, its likers and its cursor commit in one transaction, so a run killed or
rate-limited at any point re-runs from the first page not committed and never stores a
row twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from timgen_common.progress import SILENT, Progress
from timgen_data.collectors.api import ApiRunner, RawResponse, resolve_secret
from timgen_data.collectors.api import raw_path as api_raw_path
from timgen_data.collectors.api.runner import ApiRun
from timgen_data.collectors.twitter import cursor
from timgen_data.collectors.twitter.client import XClient, public_url
from timgen_data.collectors.twitter.parse import parse_liking_users, parse_tweet_page, parse_user_lookup
from timgen_data.collectors.twitter.process import XReport, XSource
from timgen_data.collectors.twitter.spec import (
    COLLECTOR,
    DEFAULT_BASE_URL,
    MAX_PAGE,
    SEARCH_MIN_PAGE,
    SEARCH_PATH,
    TIMELINE_MIN_PAGE,
    TOKEN,
    USER_FIELDS,
    USERS_BY_PATH,
    USERS_PER_LOOKUP,
    XRequest,
    page_size,
)
from timgen_data.downloads.download import client_scope
from timgen_data.errors import UsageError
from timgen_data.store import Store

PAGES_TASK = "X API pages"


def raw_path(data_dir: Path, request: XRequest) -> Path:
    """Where live runs of ``request`` append their raw responses."""
    return api_raw_path(data_dir, COLLECTOR, request.run_key)


def collect_twitter(
    store: Store,
    request: XRequest | None,
    *,
    data_dir: Path | None = None,
    load: Path | None = None,
    base_url: str = DEFAULT_BASE_URL,
    credentials_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    max_wait: float = 900.0,
    progress: Progress = SILENT,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> XReport:
    """Collect the posts ``request`` asks for (and their likers with ``engagement``), or with
    ``load`` store what a raw file holds (from live runs, or written by hand in their shape)
    without network or token.

    Raises ``RateLimitError`` (carrying the partial report) when a rate limit resets more
    than ``max_wait`` seconds away; everything before it is stored and a re-run resumes.

    >>> request = XRequest.build(query="#movie has:media", max_results=200)           # doctest: +SKIP
    >>> collect_twitter(store, request, data_dir=Path("timgen-data")).written          # doctest: +SKIP
    {'interactions': 187, 'assets': 96}
    >>> collect_twitter(store, None, load=Path("timgen-data/raw/twitter/search-0123abcd.jsonl"))  # doctest: +SKIP
    """
    runner = ApiRunner(store, XSource(), progress=progress, task=PAGES_TASK)
    if load is not None:
        return runner.replay(load)
    if request is None or data_dir is None:
        raise UsageError("give either --query TEXT or --users NAME,NAME (exactly one), or --load FILE")
    token = resolve_secret(TOKEN, credentials_file, environ)
    if max_wait < 0:
        raise UsageError(f"--max-wait must be 0 or more seconds, not {max_wait}")
    url = public_url(base_url) + (SEARCH_PATH if request.kind == "search" else USERS_BY_PATH)
    with runner.live(data_dir=data_dir, run_key=request.run_key, spec=request.canonical(), variant=request.kind,
                     url=url, started_at=int(clock())) as run, client_scope(client) as http:
        api = XClient(token, http=http, base_url=base_url, max_wait=max_wait, sleep=sleep, clock=clock,
                      on_response=run.log.append)
        plan = _Plan(runner, run, request, api)
        for target in plan.targets():
            plan.walk(target)
    return run.report


@dataclass(frozen=True)
class _Target:
    """One walk down pages of posts: a search query or one user's timeline."""

    key: str  # its cursor in collection_state
    endpoint: str  # its rate-limit bucket
    path: str
    token_param: str  # next_token (search) or pagination_token (timelines)
    min_page: int
    params: dict[str, str]


class _Plan:
    """The requests one run pages through, each answer committed as it comes."""

    def __init__(self, runner: ApiRunner, run: ApiRun, request: XRequest, api: XClient) -> None:
        self.runner, self.run, self.request, self.api = runner, run, request, api

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
            self.runner.commit(self.run, response)
            found = dict(parse_user_lookup(_body(response)).found)  # id -> username
            for user_id in found:
                yield _Target(cursor.user_key(user_id), "users/:id/tweets", f"/2/users/{user_id}/tweets",
                              cursor.TIMELINE_TOKEN, TIMELINE_MIN_PAGE, request.tweet_params())

    def walk(self, target: _Target) -> None:
        """Pages of ``target`` until the end, ``--max-results`` posts, or a bounded number of pages."""
        with self.runner.store.begin() as conn:
            state = self.run.cursors.load(conn, target.key)
        params = {**target.params, **cursor.resume_params(state, target.token_param)}
        fetched = 0
        report = self.run.report
        # Every useful page holds at least one post, so this many pages can never cut a run short.
        for _ in range(self.request.max_results):
            params["max_results"] = str(page_size(self.request.max_results - fetched, target.min_page))
            response = self.api.get(target.endpoint, target.path, dict(params))
            page = parse_tweet_page(_body(response))
            likers = [like for post_id in page.post_ids for like in self._likers(post_id)] \
                if self.request.engagement else []
            self.runner.commit(self.run, response, *likers)  # the page, its likers and its cursor
            self.runner.progress.advance(self.runner.task)
            fetched += len(_body(response).get("data") or [])
            if not page.next_token:
                return
            if fetched >= self.request.max_results:
                report.count(report.skipped, "walks_left_for_the_next_run")
                return
            params[target.token_param] = page.next_token
        report.count(report.skipped, "walks_left_for_the_next_run")

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
