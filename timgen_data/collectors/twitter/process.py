"""One raw response → stored rows: the single path that live runs and ``--load`` both take.

A live run hands each response to ``ResponseProcessor.apply`` right after recording it; a
replay hands it the recorded lines in order. What is stored (rows and cursors) therefore
depends only on the responses, which is what makes ``--load`` of a raw file give the
store the live runs gave.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from timgen_data.collectors.report import CollectReport, Rejection
from timgen_data.collectors.twitter import cursor
from timgen_data.collectors.twitter.parse import (
    LikingUsers,
    TweetPage,
    UserLookup,
    parse_liking_users,
    parse_tweet_page,
    parse_user_lookup,
)
from timgen_data.collectors.twitter.raw import RawResponse
from timgen_data.collectors.twitter.save import save_likes, save_tweet_page, upsert_users
from timgen_data.collectors.twitter.spec import COLLECTOR, USERS_BY_PATH
from timgen_data.store import load_cursor, save_cursor

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


class ResponseProcessor:
    """Applies responses to the store, tallying into ``report``; rejections name ``raw_name``:line."""

    def __init__(self, report: XReport, raw_name: str) -> None:
        self.report = report
        self.raw_name = raw_name
        self.source_id: int | None = None  # the run's sources row; set by the caller per run

    def apply(self, conn: Connection, response: RawResponse) -> TweetPage | UserLookup | LikingUsers | None:
        """Store what ``response`` holds; returns what was parsed (None for an error answer)."""
        report = self.report
        report.count(report.read, "responses")
        if response.status != 200:
            report.count(report.skipped, "error_responses")
            return None
        if not isinstance(response.body, dict):
            self.reject(response.line, "the body is not a JSON object")
            return None
        if (keyed := cursor.cursor_key(response)) is not None:
            return self._page(conn, response, *keyed)
        if response.path == USERS_BY_PATH:
            return self._lookup(conn, response)
        if match := LIKING_PATH.fullmatch(response.path):
            return self._likes(conn, response, match.group(1))
        self.reject(response.line, f"{response.path} is not an endpoint this collector reads")
        return None

    def reject(self, line: int, reason: str) -> None:
        self.report.rejections.add(Rejection(self.raw_name, line, reason))

    def _page(self, conn: Connection, response: RawResponse, key: str, token_param: str) -> TweetPage:
        page = parse_tweet_page(response.body)
        report = self.report
        report.count(report.read, "posts", len(response.body.get("data") or []))
        for reason in page.rejections:
            self.reject(response.line, reason)
        for reason, n in page.skipped.items():
            report.count(report.skipped, reason, n)
        written, planned = save_tweet_page(conn, page, self.source_id)
        report.count(report.written, "interactions", written)
        report.count(report.written, "assets", planned)
        # Committed in the caller's transaction with the page's rows: both or neither.
        save_cursor(conn, COLLECTOR, key, cursor.advance(load_cursor(conn, COLLECTOR, key), response, token_param))
        return page

    def _lookup(self, conn: Connection, response: RawResponse) -> UserLookup:
        lookup = parse_user_lookup(response.body)
        self.report.count(self.report.read, "users", len(lookup.users))
        for reason in lookup.rejections:
            self.reject(response.line, reason)
        upsert_users(conn, lookup.users)
        return lookup

    def _likes(self, conn: Connection, response: RawResponse, post_id: str) -> LikingUsers:
        likers = parse_liking_users(response.body)
        report = self.report
        report.count(report.read, "likes", len(likers.users))
        written, known = save_likes(conn, post_id, likers, response.fetched_at, self.source_id)
        report.count(report.written, "interactions", written)
        report.count(report.skipped, "likes_seen_before", known)
        if likers.users and LIKE_TIME_NOTE not in report.notes:
            report.notes.append(LIKE_TIME_NOTE)
        return likers
