"""One raw response → stored rows: X's ``apply``, the single path live runs and ``--load`` both take.

The runner (``collectors.api.runner``) hands each response here right after the log has it
on a live run, and the logged lines in order on a replay. What is stored (rows and cursors)
therefore depends only on the responses, which is what makes ``--load`` of a raw file give
the store the live runs gave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection

from timgen_data.collectors.api import RawResponse
from timgen_data.collectors.api.runner import ApiRun
from timgen_data.collectors.report import CollectReport
from timgen_data.collectors.twitter import cursor
from timgen_data.collectors.twitter.parse import (
    LikingUsers,
    TweetPage,
    UserLookup,
    parse_liking_users,
    parse_tweet_page,
    parse_user_lookup,
)
from timgen_data.collectors.twitter.save import save_likes, save_tweet_page, upsert_users
from timgen_data.collectors.twitter.spec import COLLECTOR, LICENSE, NAMESPACE, USERS_BY_PATH

LIKING_PATH = re.compile(r"/2/tweets/(\d+)/liking_users")
LIKE_TIME_NOTE = ("likes carry the time they were first collected: the X API does not say when a post "
                  "was liked")


@dataclass
class XReport(CollectReport):
    """A ``CollectReport`` plus notes a reader of the numbers needs (how like times were set)."""

    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "notes": self.notes}

    def count(self, table: dict[str, int], key: str, amount: int = 1) -> None:
        if amount:
            table[key] = table.get(key, 0) + amount


class XSource:
    """X as the runner sees it: its names, its report, and ``apply``."""

    collector, namespace, license = COLLECTOR, NAMESPACE, LICENSE

    def new_report(self, variant: str, url: str, sha256: str) -> XReport:
        return XReport(COLLECTOR, variant, NAMESPACE, url, sha256)

    def apply(self, run: ApiRun, conn: Connection, response: RawResponse) -> TweetPage | UserLookup | LikingUsers | None:
        """Store what ``response`` holds; returns what was parsed (None for an error answer)."""
        report = run.report
        report.count(report.read, "responses")
        if response.status != 200:
            report.count(report.skipped, "error_responses")
            return None
        if not isinstance(response.body, dict):
            run.reject(response.line, "the body is not a JSON object")
            return None
        # A hand-written file may give numbers; the API's parameters are text.
        response = replace(response, params={str(k): str(v) for k, v in response.params.items()})
        if (keyed := cursor.cursor_key(response)) is not None:
            return _page(run, conn, response, *keyed)
        if response.path == USERS_BY_PATH:
            return _lookup(run, conn, response)
        if match := LIKING_PATH.fullmatch(response.path):
            return _likes(run, conn, response, match.group(1))
        run.reject(response.line, f"{response.path} is not an endpoint this collector reads")
        return None


def _page(run: ApiRun, conn: Connection, response: RawResponse, key: str, token_param: str) -> TweetPage:
    page = parse_tweet_page(response.body)
    report = run.report
    report.count(report.read, "posts", len(response.body.get("data") or []))
    for reason in page.rejections:
        run.reject(response.line, reason)
    for reason, n in page.skipped.items():
        report.count(report.skipped, reason, n)
    written, planned = save_tweet_page(conn, page, run.source_id)
    report.count(report.written, "interactions", written)
    report.count(report.written, "assets", planned)
    # Committed in the caller's transaction with the page's rows: both or neither.
    run.cursors.advance(conn, key, lambda previous: cursor.advance(previous, response, token_param))
    return page


def _lookup(run: ApiRun, conn: Connection, response: RawResponse) -> UserLookup:
    lookup = parse_user_lookup(response.body)
    run.report.count(run.report.read, "users", len(lookup.users))
    for reason in lookup.rejections:
        run.reject(response.line, reason)
    upsert_users(conn, lookup.users)
    return lookup


def _likes(run: ApiRun, conn: Connection, response: RawResponse, post_id: str) -> LikingUsers:
    likers = parse_liking_users(response.body)
    report = run.report
    report.count(report.read, "likes", len(likers.users))
    written, known = save_likes(conn, post_id, likers, response.fetched_at, run.source_id)
    report.count(report.written, "interactions", written)
    report.count(report.skipped, "likes_seen_before", known)
    if likers.users and LIKE_TIME_NOTE not in report.notes:
        report.notes.append(LIKE_TIME_NOTE)
    return likers
