"""What one ``collect twitter`` run asks the X API v2 for, and the fields every request names.

A run is a recent-search query or a list of usernames whose timelines are read. Its
canonical JSON names it: the sha256 of that JSON keys the run's ``sources`` row (the same
query reuses its row, as an archive's checksum does for file collectors) and the raw
response file live runs append to. ``--max-results`` and the base URL are left out of the
name on purpose: they say how much and from where, not what.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from timgen_data.collectors.api import Secret
from timgen_data.collectors.api.runner import spec_sha256
from timgen_data.errors import TimeValueError, UsageError
from timgen_data.sources import SOURCES
from timgen_data.timeline import normalize_time

COLLECTOR = "twitter"
NAMESPACE = "twitter"
DEFAULT_BASE_URL = "https://api.x.com"
LICENSE = SOURCES[COLLECTOR].license
TOKEN_ENV = "X_BEARER_TOKEN"
TOKEN = Secret(TOKEN_ENV, ("bearer_token",), "the X API bearer token",
               "create one in the X developer portal (developer.x.com)")

EXPANSIONS = "author_id,attachments.media_keys,referenced_tweets.id"
TWEET_FIELDS = "created_at,public_metrics,attachments,entities,referenced_tweets,conversation_id,lang,note_tweet"
USER_FIELDS = "created_at,username,name,public_metrics"
MEDIA_FIELDS = "type,url,preview_image_url,variants,duration_ms,width,height"

SEARCH_PATH = "/2/tweets/search/recent"
USERS_BY_PATH = "/2/users/by"
MAX_PAGE = 100  # the most any of these endpoints returns per page
SEARCH_MIN_PAGE = 10  # recent search refuses max_results below 10
TIMELINE_MIN_PAGE = 5  # user timelines refuse below 5
USERS_PER_LOOKUP = 100  # /2/users/by takes at most 100 usernames
_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")


@dataclass(frozen=True)
class XRequest:
    """A validated run spec; build it with ``XRequest.build`` (times as UTC epoch seconds)."""

    query: str | None = None
    users: tuple[str, ...] = ()
    since: int | None = None
    until: int | None = None
    max_results: int = 100  # posts per query or user per run, and likers per post
    engagement: bool = False

    @classmethod
    def build(cls, *, query: str | None = None, users: str | list[str] | tuple[str, ...] = (),
              since: object = None, until: object = None, max_results: int = 100,
              engagement: bool = False) -> XRequest:
        """Check and normalize what the user asked for.

        >>> XRequest.build(users="@Alice, bob", since="2026-11-01").users
        ('alice', 'bob')
        """
        names = users.split(",") if isinstance(users, str) else list(users)
        names = list(dict.fromkeys(n.strip().lstrip("@").lower() for n in names if n.strip()))
        query = (query or "").strip() or None
        if (query is None) == (not names):
            raise UsageError("give either --query TEXT or --users NAME,NAME (exactly one), or --load FILE")
        bad = [n for n in names if not _USERNAME.fullmatch(n)]
        if bad:
            raise UsageError(f"not an X username: {', '.join(bad)}; usernames are 1-15 letters, digits or _")
        if max_results < 1:
            raise UsageError(f"--max-results must be at least 1, not {max_results}")
        start, end = _time(since, "--since"), _time(until, "--until")
        if start is not None and end is not None and start >= end:
            raise UsageError("--since must be earlier than --until")
        return cls(query, tuple(names), start, end, max_results, engagement)

    @property
    def kind(self) -> str:
        return "search" if self.query is not None else "users"

    def canonical(self) -> dict[str, object]:
        what = {"query": self.query} if self.query is not None else {"users": list(self.users)}
        return {"kind": self.kind, **what, "since": self.since, "until": self.until, "engagement": self.engagement}

    @property
    def sha256(self) -> str:
        return spec_sha256(self.canonical())

    @property
    def run_key(self) -> str:
        """The raw-response file's name (without ``.jsonl``)."""
        return f"{self.kind}-{self.sha256[:16]}"

    def tweet_params(self) -> dict[str, str]:
        """Parameters every post request carries: the fixed fields and the time window."""
        params = {"expansions": EXPANSIONS, "tweet.fields": TWEET_FIELDS, "user.fields": USER_FIELDS,
                  "media.fields": MEDIA_FIELDS}
        if self.since is not None:
            params["start_time"] = iso_time(self.since)
        if self.until is not None:
            params["end_time"] = iso_time(self.until)
        return params


def page_size(remaining: int, minimum: int) -> int:
    """``max_results`` for the next page: what is left, within the endpoint's bounds."""
    return max(minimum, min(MAX_PAGE, remaining))


def iso_time(ts: int) -> str:
    """The X API's time format (RFC 3339 in UTC, whole seconds)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: object, option: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return normalize_time(value, record=option).ts
    except TimeValueError as exc:
        raise UsageError(str(exc)) from None
