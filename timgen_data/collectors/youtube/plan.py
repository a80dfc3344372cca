"""The run as a sequence of API calls, decided from the cursor alone (pure).

A run is: list the videos (search pages, a channel's uploads, a playlist's pages; or
the ids given), fetch their metadata 50 ids per videos.list call, then, if asked, page
through each stored video's comment threads, and through the replies (comments.list by
``parentId``) of each thread that has more than the few a thread page carries.
``next_call`` names the one call to make next; the ``after_*`` functions give the
cursor that call leads to. The collector commits each new cursor together with the
rows of the response, so a run stopped anywhere (quota, network, Ctrl-C) resumes at
the first call it had not finished.

The cursor holds the listing method and its page token, the ids listed, waiting,
stored and not found, where the comment paging is (video, page token), the threads whose
replies are still to read (and where that paging is), and the category names seen so far
(``"10" → "Music"``), all plain JSON.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from timgen_data.collectors.youtube.request import COMMENT_PAGE_SIZE, PAGE_SIZE, YouTubeRequest

CURSOR_VERSION = 1
# Listing pages that add nothing new are possible (duplicates across pages); this many
# beyond what max_results needs end the listing even if the API keeps offering pages.
SPARE_PAGES = 5
VIDEO_PARTS = "snippet,contentDetails,statistics,status,topicDetails"
LISTING_METHODS = {"search": "search.list", "channel": "playlistItems.list", "playlist": "playlistItems.list"}


def new_cursor(request: YouTubeRequest) -> dict[str, Any]:
    given = list(request.target) if request.mode == "videos" else []
    return {
        "version": CURSOR_VERSION,
        "complete": False,
        "steps": 0,  # calls whose answer is committed (a category lookup rides along with its videos)
        "listing": {
            "method": LISTING_METHODS.get(request.mode, "ids"),
            "done": request.mode == "videos",
            "page_token": None,
            "pages": 0,
            "playlist": request.target if request.mode == "playlist" else None,
        },
        "found": list(given),
        "pending": list(given),  # a list of its own: found and pending change apart
        "stored": [],
        "missing": [],
        "comments": {"index": 0, "page_token": None, "pages": 0},
        "replies": _no_replies(),
        "categories": {},
    }


def _no_replies() -> dict[str, Any]:
    # threads: [video, thread id, totalReplyCount] still to read; read: replies the first one gave so far;
    # seen: the current video's threads already queued (a thread listed again on a later page is read once)
    return {"threads": [], "page_token": None, "pages": 0, "read": 0, "seen": []}


def next_call(request: YouTubeRequest, cursor: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The (method, params) to call next, or None when the run is finished."""
    if cursor["pending"]:
        batch = ",".join(cursor["pending"][:PAGE_SIZE])
        return "videos.list", {"part": VIDEO_PARTS, "id": batch}
    listing = cursor["listing"]
    if not listing["done"]:
        token = {"pageToken": listing["page_token"]} if listing["page_token"] else {}
        size = max(1, min(PAGE_SIZE, request.max_results - len(cursor["found"])))
        if request.mode == "search":
            return "search.list", {"part": "id", "q": request.target, "type": "video", "maxResults": size, **token}
        if listing["playlist"] is None:  # a channel: first find its uploads playlist
            target = request.target
            which = {"forHandle": target} if target.startswith("@") else {"id": target}
            return "channels.list", {"part": "contentDetails", **which}
        return "playlistItems.list", {"part": "contentDetails", "playlistId": listing["playlist"], "maxResults": size,
                                      **token}
    replies = cursor.get("replies") or _no_replies()  # a cursor saved before replies were read has none
    if request.comments and replies["threads"]:
        token = {"pageToken": replies["page_token"]} if replies["page_token"] else {}
        return "comments.list", {"part": "snippet", "parentId": replies["threads"][0][1], "textFormat": "plainText",
                                 "maxResults": COMMENT_PAGE_SIZE, **token}
    comments = cursor["comments"]
    if request.comments and comments["index"] < len(cursor["stored"]):
        token = {"pageToken": comments["page_token"]} if comments["page_token"] else {}
        video = cursor["stored"][comments["index"]]
        return "commentThreads.list", {"part": "snippet,replies", "videoId": video, "textFormat": "plainText",
                                       "maxResults": COMMENT_PAGE_SIZE, **token}
    return None


def after_listing(
    request: YouTubeRequest, cursor: dict[str, Any], ids: list[str], next_token: str | None
) -> dict[str, Any]:
    """A search or playlist page listed ``ids``: queue the new ones, move to the next page."""
    new = copy.deepcopy(cursor)
    listing = new["listing"]
    seen = set(new["found"])
    room = request.max_results - len(new["found"])
    fresh = [i for i in ids if i not in seen][:max(0, room)]
    new["found"] += fresh
    new["pending"] += fresh
    listing["pages"] += 1
    page_limit = -(-request.max_results // PAGE_SIZE) + SPARE_PAGES
    listing["done"] = (
        not next_token or next_token == listing["page_token"] or len(new["found"]) >= request.max_results
        or listing["pages"] >= page_limit
    )
    listing["page_token"] = None if listing["done"] else next_token
    return _counted(new)


def after_channel(cursor: dict[str, Any], uploads: str | None) -> dict[str, Any]:
    new = copy.deepcopy(cursor)
    new["listing"]["playlist"] = uploads
    new["listing"]["done"] = uploads is None
    return _counted(new)


def after_videos(cursor: dict[str, Any], returned: list[str], categories: dict[str, str | None]) -> dict[str, Any]:
    """The first batch of pending ids was asked for; ``returned`` came back (the rest are not found)."""
    new = copy.deepcopy(cursor)
    batch, new["pending"] = new["pending"][:PAGE_SIZE], new["pending"][PAGE_SIZE:]
    answered = set(returned)
    stored = set(new["stored"])
    new["stored"] += [i for i in batch if i in answered and i not in stored]
    new["missing"] += [i for i in batch if i not in answered]
    new["categories"] = {**new["categories"], **categories}
    return _counted(new)


def after_comments(
    request: YouTubeRequest, cursor: dict[str, Any], next_token: str | None, more_replies: Sequence[list[Any]] = ()
) -> tuple[dict[str, Any], bool]:
    """A comment page of the current video was read (or the video was skipped with
    ``next_token`` None); ``more_replies`` are its threads whose replies are read next
    (``parse.threads_with_more_replies``). Returns the cursor and whether pages were left unread."""
    new = copy.deepcopy(cursor)
    replies = new.setdefault("replies", _no_replies())
    seen = replies.setdefault("seen", [])
    for thread in more_replies:
        if thread[1] not in seen:
            replies["threads"].append(list(thread))
            seen.append(thread[1])
    comments = new["comments"]
    comments["pages"] += 1
    more = bool(next_token) and next_token != comments["page_token"]
    truncated = more and comments["pages"] >= request.max_comment_pages
    if more and not truncated:
        comments["page_token"] = next_token
    else:
        new["comments"] = {"index": comments["index"] + 1, "page_token": None, "pages": 0}
        replies["seen"] = []
    return _counted(new), truncated


def after_replies(
    request: YouTubeRequest, cursor: dict[str, Any], next_token: str | None, read: int
) -> tuple[dict[str, Any], int, bool]:
    """A reply page of the first waiting thread was read (``read`` replies on it), or the
    thread was skipped (``next_token`` None). Returns the cursor, the replies the thread
    counts that were not read once it is done (0 while it is not), and whether reply pages
    were left unread (``max_comment_pages`` bounds them per thread, as it bounds a video's
    comment pages)."""
    new = copy.deepcopy(cursor)
    replies = new["replies"]
    replies["pages"] += 1
    replies["read"] += read
    more = bool(next_token) and next_token != replies["page_token"]
    truncated = more and replies["pages"] >= request.max_comment_pages
    if more and not truncated:
        replies["page_token"] = next_token
        return _counted(new), 0, False
    _, _, total = replies["threads"][0]
    left = max(0, int(total) - replies["read"])
    new["replies"] = {**_no_replies(), "threads": replies["threads"][1:], "seen": replies.get("seen", [])}
    return _counted(new), left, truncated


def finished(cursor: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(cursor)
    new["complete"] = True
    return new


def _counted(cursor: dict[str, Any]) -> dict[str, Any]:
    cursor["steps"] += 1
    return cursor
