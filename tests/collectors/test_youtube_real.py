"""collect_youtube over real YouTube Data API v3 bodies (``../shared/real/youtube/``, from
python-youtube's test data), served by a loopback server to the real googleapiclient path.

What is asserted is read here from the artifact's JSON, not from our own output. Two
stand-ins, since the artifact holds no such bodies: the videos.list answer for
F1UP7wRCPH8 (the video of the two real html comment pages) is the real D-lhorsDlUQ
body with its id changed, and the comments.list pages (replies by ``parentId``) are
real comments of another thread body given that thread as their parent.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import pytest
from support.http_server import LoopbackServer
from support.real_files import real_path

from timgen_data.collectors.youtube import YouTubeRequest, collect_youtube
from timgen_data.store import Store, fetch_rows

SECRET = "AIzaTIMGEN-real-secret-0123456789"
DAY = 1_767_268_800  # 2026-01-01T12:00:00Z
VIDEO, PAGED = "D-lhorsDlUQ", "F1UP7wRCPH8"  # the video with status; the one of the html comment pages


@pytest.fixture(scope="module")
def real() -> Path:
    return real_path("youtube", what="real YouTube API bodies", needs="modeldata_video_api_response.json")


def body(real: Path, name: str) -> dict:
    return json.loads((real / f"{name}.json").read_text(encoding="utf-8"))


def seconds(published: str) -> int:
    return int(datetime.fromisoformat(published.replace("Z", "+00:00")).timestamp())


def without_text_original(page: dict) -> dict:
    """The page as a response without ``textOriginal`` would be: only the display form."""
    page = copy.deepcopy(page)
    for thread in page["items"]:
        comments = [thread["snippet"]["topLevelComment"]] if "topLevelComment" in thread.get("snippet", {}) \
            else [thread]
        for comment in comments + (thread.get("replies") or {}).get("comments", []):
            comment["snippet"].pop("textOriginal", None)
    return page


def reply_pages(real: Path, parent: str) -> list[dict]:
    """Two comments.list pages (one reply each) made of another real thread body's comments."""
    donors = [thread["snippet"]["topLevelComment"] for thread in body(real, "modeldata_comment_thread_api_response")
              ["items"]]
    replies = []
    for donor in donors:
        reply = copy.deepcopy(donor)
        reply["id"] = f"{parent}.{donor['id']}"  # a reply's id is its thread's, a dot, its own
        reply["snippet"]["parentId"] = parent
        replies.append(reply)
    first = {"kind": "youtube#commentListResponse", "nextPageToken": "R2", "items": replies[:1]}
    return [first, {"kind": "youtube#commentListResponse", "items": replies[1:]}]


def serve(server: LoopbackServer, real: Path, *, plain_only: bool) -> dict:
    """Routes for a run over VIDEO and PAGED; returns the bodies served, as served."""
    video = body(real, "modeldata_video_api_response")
    stand_in = copy.deepcopy(video["items"][0])
    stand_in["id"] = PAGED
    videos = {**video, "items": [*video["items"], stand_in]}
    strip = without_text_original if plain_only else (lambda page: page)
    threads = {VIDEO: [strip(body(real, "comment_threads_comment_threads_multi"))],
               PAGED: [strip(body(real, f"comment_threads_comment_threads_by_video_paged_{n}")) for n in (1, 2)]}
    parent = next(t["id"] for t in threads[PAGED][0]["items"] if t["snippet"]["totalReplyCount"] > 0)
    replies = [strip(page) for page in reply_pages(real, parent)]
    server.add_json("/youtube/v3/videos", videos, query={"id": f"{VIDEO},{PAGED}"})
    server.add_json("/youtube/v3/videoCategories", body(real, "categories_video_category_by_region"))
    server.add_json("/youtube/v3/commentThreads", threads[VIDEO][0], query={"videoId": VIDEO})
    server.add_json("/youtube/v3/commentThreads", threads[PAGED][0], query={"videoId": PAGED})
    server.add_json("/youtube/v3/commentThreads", threads[PAGED][1],
                    query={"videoId": PAGED, "pageToken": threads[PAGED][0]["nextPageToken"]})
    server.add_json("/youtube/v3/comments", replies[0], query={"parentId": parent})
    server.add_json("/youtube/v3/comments", replies[1], query={"parentId": parent, "pageToken": "R2"})
    return {"videos": videos, "threads": threads, "replies": replies, "parent": parent}


def expected_comments(real: Path, served: dict) -> set[tuple]:
    """(author channel, video, time, text) of every comment served, the text as the artifact's
    ``textOriginal`` (the served bodies may lack it: the artifact is read again here)."""
    original = {}
    for path in real.glob("*comment*.json"):
        for thread in json.loads(path.read_text(encoding="utf-8"))["items"]:
            top = thread["snippet"]["topLevelComment"]
            original[top["id"]] = top["snippet"]["textOriginal"]
    found = set()
    for video, pages in served["threads"].items():
        for page in pages:
            for thread in page["items"]:
                top = thread["snippet"]["topLevelComment"]
                found.add((top["snippet"]["authorChannelId"]["value"], video, seconds(top["snippet"]["publishedAt"]),
                           original[top["id"]]))
    for page in served["replies"]:
        for reply in page["items"]:
            found.add((reply["snippet"]["authorChannelId"]["value"], PAGED, seconds(reply["snippet"]["publishedAt"]),
                       original[reply["id"].split(".", 1)[1]]))
    return found


@pytest.mark.parametrize("plain_only", [False, True], ids=["as-sent", "display-form-only"])
def test_real_bodies_store_status_comments_and_replies(real, tmp_path, plain_only):
    with LoopbackServer() as server:
        served = serve(server, real, plain_only=plain_only)
        store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
        report = collect_youtube(store, YouTubeRequest("videos", (VIDEO, PAGED), comments=True),
                                 data_dir=tmp_path / "data", api_key=SECRET, base_url=server.url,
                                 clock=lambda: DAY, sleep=lambda _: None)
        calls = [(r.path.rsplit("/", 1)[-1], r.params) for r in server.requests if r.path.startswith("/youtube/v3/")]
    assert not report.stopped, report.message

    # The replies of the one thread with totalReplyCount > the replies it carries, two pages, read once
    # although both real comment pages list that thread.
    assert [(name, p.get("parentId"), p.get("pageToken")) for name, p in calls if name == "comments"] == [
        ("comments", served["parent"], None), ("comments", served["parent"], "R2")]
    assert all(p["textFormat"] == "plainText" for name, p in calls if name in ("comments", "commentThreads"))
    assert report.quota["used"] == len(calls) == 7  # every call at 1 unit: videos, categories, 3 + 2 comment pages
    assert report.skipped["replies_not_returned"] == 0

    with store.begin() as conn:
        items = {row[0]: row for row in fetch_rows(conn, "SELECT external_id, title, category, attributes FROM items")}
        stored = set(fetch_rows(conn, """
            SELECT u.external_id, i.external_id, x.ts, x.text FROM interactions x
            JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id"""))
        users = {row[0] for row in fetch_rows(conn, "SELECT external_id FROM users")}
    store.dispose()

    video = served["videos"]["items"][0]
    names = {c["id"]: c["snippet"]["title"] for c in body(real, "categories_video_category_by_region")["items"]}
    external_id, title, category, attributes = items[VIDEO]
    attributes = json.loads(attributes)
    assert (title, category) == (video["snippet"]["title"], names[video["snippet"]["categoryId"]])
    status = video["status"]
    assert (attributes["privacyStatus"], attributes["license"], attributes["embeddable"]) == (
        status["privacyStatus"], status["license"], status["embeddable"])
    assert attributes["madeForKids"] == status.get("madeForKids")  # absent from this body: None
    assert attributes["topicCategories"] == [] and "topicDetails" not in video

    expected = expected_comments(real, served)
    assert stored == expected
    threads = {t["id"] for pages in served["threads"].values() for page in pages for t in page["items"]}
    assert len(stored) == len(threads) + sum(len(page["items"]) for page in served["replies"])
    assert users == {user for user, *_ in expected}
    assert not any("<br" in text or "&#39;" in text or "<a " in text for *_, text in stored)
