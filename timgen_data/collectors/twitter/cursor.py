"""Where each query's or user's collection stands, computed from the responses alone.

Posts come newest first. A run walks down the pages to the newest post the previous run
saw (``since_id``); only when the walk ends does that boundary move up to the newest post
of this walk, so a run stopped halfway (killed, rate-limited, ``--max-results`` reached)
neither skips the posts below where it stopped nor fetches a committed page again. Cursors:

- between walks: ``{"newest_id": N}``; the next run asks ``since_id=N``;
- during a walk: ``{"newest_id": N, "since_id": N, "walk_newest": M, "next_token": T}``; the
  next run continues from ``T`` with the same ``since_id``.

Because the cursor is a function of the previous cursor and the response (whose request
parameters are recorded with it), ``--load`` of the raw file rebuilds the same cursors.
"""

from __future__ import annotations

import re
from typing import Any

from timgen_data.collectors.api import RawResponse
from timgen_data.collectors.twitter.spec import SEARCH_PATH

TIMELINE_PATH = re.compile(r"/2/users/(\d+)/tweets")
SEARCH_TOKEN, TIMELINE_TOKEN = "next_token", "pagination_token"


def search_key(query: str) -> str:
    return f"search:{query}"


def user_key(user_id: str) -> str:
    return f"user:{user_id}"


def cursor_key(response: RawResponse) -> tuple[str, str] | None:
    """(cursor key, the parameter that carries the page token) for a page of posts; None otherwise."""
    if response.path == SEARCH_PATH and "query" in response.params:
        return search_key(response.params["query"]), SEARCH_TOKEN
    if match := TIMELINE_PATH.fullmatch(response.path):
        return user_key(match.group(1)), TIMELINE_TOKEN
    return None


def advance(previous: dict[str, Any] | None, response: RawResponse, token_param: str) -> dict[str, Any]:
    """The cursor after ``response`` (a 200 page of posts) was stored."""
    previous = previous or {}
    meta = (response.body.get("meta") or {}) if isinstance(response.body, dict) else {}
    first_page = token_param not in response.params
    walk_newest = newest(None if first_page else previous.get("walk_newest"), meta.get("newest_id"))
    since = response.params.get("since_id")
    if meta.get("next_token"):
        state = {"newest_id": previous.get("newest_id"), "since_id": since, "walk_newest": walk_newest,
                 "next_token": meta["next_token"]}
    else:
        state = {"newest_id": newest(previous.get("newest_id"), since, walk_newest)}
    return {k: v for k, v in state.items() if v is not None}


def resume_params(cursor: dict[str, Any] | None, token_param: str) -> dict[str, str]:
    """``since_id`` and the page token the next request of this key carries."""
    if not cursor:
        return {}
    if cursor.get("next_token"):
        params = {token_param: str(cursor["next_token"])}
        if cursor.get("since_id"):
            params["since_id"] = str(cursor["since_id"])
        return params
    return {"since_id": str(cursor["newest_id"])} if cursor.get("newest_id") else {}


def newest(*ids: str | None) -> str | None:
    """The newest of some post ids (ids grow with time; compared as numbers, not text).

    >>> newest("999", "1000", None)
    '1000'
    """
    present = [str(i) for i in ids if i]
    return max(present, key=lambda i: (len(i), i)) if present else None
