"""``collect twitter`` on real X API v2 responses (``../shared/real/twitter/``, see its README),
served by the loopback API: text decoded as its author wrote it, long posts whole, public
metrics kept, and the withheld, media, user and liker shapes stored without rejections.

Expected values are read from the artifacts here, independently of the collector's parser.
"""

from __future__ import annotations

import html
import json

from support.real_files import real_path
from support.x_api import SEARCH, FakeClock, FakeXApi, fixture, snapshot

from timgen_data.collectors.twitter import XRequest, collect_twitter, raw_path
from timgen_data.store import Store, fetch_rows

ENV = {"X_BEARER_TOKEN": "tok-REAL-7c31a9"}
SEARCH_PAGES = ("search_p1_noflat", "search_p2_kpop", "search_p3_brexit")
ESCAPES = ("&amp;", "&lt;", "&gt;")  # what the X API escapes in a post's text


def real(name: str) -> dict:
    path = real_path("twitter", f"{name}.json", what=f"real X API response {name}.json")
    return json.loads(path.read_text(encoding="utf-8"))


def escaped(text: str) -> bool:
    return any(entity in text for entity in ESCAPES)


def run(store, api, tmp_path, **spec):
    clock = FakeClock()
    return collect_twitter(store, XRequest.build(**spec), data_dir=tmp_path / "data", base_url=api.url,
                           environ=ENV, sleep=clock.sleep, clock=clock)


def kept_posts(bodies: list[dict]) -> dict[str, dict]:
    """id -> the artifact's post, for every post that is an item: the pages' own posts by an
    included author that are not retweets, and the referenced posts the pages include."""
    posts: dict[str, dict] = {}
    for body in bodies:
        authors = {user["id"] for user in body["includes"].get("users", [])}
        posts.update((post["id"], post) for post in body["includes"].get("tweets", []))
        for post in body["data"]:
            retweet = any(ref["type"] == "retweeted" for ref in post.get("referenced_tweets", []))
            if post["author_id"] in authors and not retweet:
                posts[post["id"]] = post
    return posts


def written_texts(bodies: list[dict], items: set[str]) -> list[tuple[str, str, str, str]]:
    """(user, post, action, the artifact's raw text) for what each post's author wrote: the post
    itself, and a reply or quote on the referenced post where that post is an item."""
    actions = {"replied_to": "comment", "quoted": "share"}
    written = []
    for body in bodies:
        authors = {user["id"] for user in body["includes"].get("users", [])}
        for post in body["data"]:
            refs = post.get("referenced_tweets", [])
            if post["author_id"] not in authors or any(ref["type"] == "retweeted" for ref in refs):
                continue
            written.append((post["author_id"], post["id"], "comment", post["text"]))
            written += [(post["author_id"], ref["id"], actions[ref["type"]], post["text"])
                        for ref in refs if ref["type"] in actions and ref["id"] in items]
    return written


def stored_items(store) -> dict[str, tuple[str | None, dict]]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT external_id, text, attributes FROM items WHERE source = 'twitter'")
    return {external_id: (text, json.loads(attributes)) for external_id, text, attributes in rows}


def stored_texts(store) -> list[tuple[str, str, str, str]]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.external_id, it.external_id, x.action, x.text FROM interactions x "
                                "JOIN users u ON u.id = x.user_id JOIN items it ON it.id = x.item_id "
                                "WHERE x.text IS NOT NULL")
    return sorted(tuple(row) for row in rows)


def test_real_search_pages_store_text_as_written_and_public_metrics(sqlite_store, tmp_path):
    bodies = [real(name) for name in SEARCH_PAGES]
    with FakeXApi() as api:
        token = None
        for body in bodies:  # served as one walk: each page's next_token leads to the next page
            api.reply(SEARCH, body, params={"next_token": token}, times=None)
            token = body["meta"]["next_token"]
        report = run(sqlite_store, api, tmp_path, query="real pages", max_results=300)
        assert "note_tweet" in api.calls(SEARCH)[0].params["tweet.fields"].split(",")
    assert report.rejections.count == 0 and report.read["posts"] == sum(len(b["data"]) for b in bodies)

    posts = kept_posts(bodies)
    items = stored_items(sqlite_store)
    assert set(items) == set(posts)
    escaped_items = [post_id for post_id, post in posts.items() if escaped(post["text"])]
    assert escaped_items  # the pages hold escaped text: this test checks the decoding
    for post_id, post in posts.items():
        text, attributes = items[post_id]
        assert text == html.unescape(post["text"]), post_id
        assert attributes["public_metrics"] == post["public_metrics"], post_id
    assert not [post_id for post_id in escaped_items if escaped(items[post_id][0])]  # no &amp; left

    written = written_texts(bodies, set(posts))
    assert [w for w in written if escaped(w[3])]  # interactions whose text the API escaped
    assert stored_texts(sqlite_store) == sorted((u, p, a, html.unescape(t)) for u, p, a, t in written)

    # The raw file replayed decodes once too: the same store, no text decoded twice.
    replayed = Store.open(f"sqlite:///{tmp_path / 'replayed.sqlite'}")
    collect_twitter(replayed, None, load=raw_path(tmp_path / "data", XRequest.build(query="real pages")))
    assert snapshot(replayed) == snapshot(sqlite_store)
    replayed.dispose()


def test_a_long_post_is_stored_whole_from_note_tweet(sqlite_store, tmp_path):
    body = fixture("search_page3")
    # As the API sends a long post: `text` cut short and escaped, the whole of it in note_tweet.
    whole = "Saw it twice &amp; would again: the score &lt;3, the cast &gt; the book. " * 5 + \
            "Typed a literal &amp;lt; here. #LongTake"
    post = body["data"][0]
    post["text"] = whole[:270] + "…"
    post["note_tweet"] = {"text": whole, "entities": {"hashtags": [
        {"start": len(whole) - 9, "end": len(whole), "tag": "LongTake"}]}}
    with FakeXApi() as api:
        api.reply(SEARCH, body, times=None)
        run(sqlite_store, api, tmp_path, query="long")
    expected = html.unescape(whole)
    assert len(expected) > 280 and expected.endswith("Typed a literal &lt; here. #LongTake")
    items = stored_items(sqlite_store)
    assert items[post["id"]][0] == expected
    assert stored_texts(sqlite_store) == [(post["author_id"], post["id"], "comment", expected)]
    with sqlite_store.begin() as conn:
        categories = fetch_rows(conn, "SELECT categories FROM items WHERE external_id = :id", {"id": post["id"]})
    assert json.loads(categories[0][0]) == ["LongTake"]  # its hashtag is past the cut


def test_real_withheld_timeline_media_post_users_and_likers_go_through(sqlite_store, tmp_path):
    users, timeline, media_post, likers = (real(name) for name in (
        "users_by_tweepy", "timeline_withheld_p3", "media_tweet", "liking_users_tweepy"))
    first, second = (user["id"] for user in users["data"])
    video = media_post["data"][0]
    with FakeXApi() as api:
        api.reply("/2/users/by", users)
        # The collector reads no /2/tweets lookup; its body has a timeline page's shape, so it is served as one.
        api.reply(f"/2/users/{first}/tweets", timeline, times=None)
        api.reply(f"/2/users/{second}/tweets", media_post, times=None)
        api.reply(f"/2/tweets/{video['id']}/liking_users", likers, times=None)
        for post in timeline["data"]:
            api.reply(f"/2/tweets/{post['id']}/liking_users", {"meta": {"result_count": 0}}, times=None)
        names = ",".join(user["username"] for user in users["data"])
        report = run(sqlite_store, api, tmp_path, users=names, max_results=100, engagement=True)
    assert report.rejections.count == 0
    assert report.skipped.get("error_responses", 0) == 0

    rows = snapshot(sqlite_store)
    stored_users = {external_id: json.loads(attributes) for external_id, attributes in rows["users"]}
    for user in users["data"] + likers["data"]:
        assert stored_users[user["id"]]["username"] == user["username"]
    likes = {(u, p) for u, p, _ts, action, _value, _duration in rows["interactions"] if action == "like"}
    assert likes == {(user["id"], video["id"]) for user in likers["data"]}

    bodies = [timeline, media_post]
    posts = kept_posts(bodies)
    items = stored_items(sqlite_store)
    assert set(items) == set(posts)
    for post_id, post in posts.items():
        assert items[post_id][0] == html.unescape(post["text"]), post_id
        assert items[post_id][1]["public_metrics"] == post["public_metrics"], post_id
    withheld = [post["id"] for post in timeline["data"] + timeline["includes"]["tweets"] if "withheld" in post]
    assert withheld and all(post_id in items for post_id in withheld)
    referenced = {ref["id"] for post in timeline["data"] for ref in post.get("referenced_tweets", [])}
    missing = referenced - {post["id"] for post in timeline["includes"]["tweets"]}
    assert report.skipped.get("referenced_posts_unavailable", 0) == len(missing)

    media = media_post["includes"]["media"][0]
    mp4 = max((v for v in media["variants"] if v["content_type"] == "video/mp4"), key=lambda v: v["bit_rate"])
    assert (video["id"], "video", mp4["url"], "pending") in rows["assets"]
    assert (video["id"], "image", media["preview_image_url"], "pending") in rows["assets"]
    comment = [i for i in rows["interactions"] if i[1] == video["id"] and i[3] == "comment"]
    assert comment == [(video["author_id"], video["id"], comment[0][2], "comment", None, media["duration_ms"] / 1000)]
