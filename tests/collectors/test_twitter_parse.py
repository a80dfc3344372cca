"""X collector, pure parts: saved API responses → records (expected output beside each), cursors, specs."""

from __future__ import annotations

import dataclasses
import json

import pytest
from support.x_api import FIXTURES, fixture

from timgen_data.collectors.api import RawResponse, resolve_secret
from timgen_data.collectors.twitter import (
    TOKEN,
    XRequest,
    best_mp4,
    parse_liking_users,
    parse_tweet_page,
    parse_user_lookup,
)
from timgen_data.collectors.twitter.cursor import advance, newest, resume_params
from timgen_data.errors import ConfigError, UsageError

PARSERS = {
    "search_page1": parse_tweet_page,
    "search_page2": parse_tweet_page,
    "search_page3": parse_tweet_page,
    "users_by": parse_user_lookup,
    "liking_users_301": parse_liking_users,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_saved_responses_parse_to_the_expected_records(name):
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))
    parsed = dataclasses.asdict(PARSERS[name](fixture(name)))
    assert json.loads(json.dumps(parsed)) == expected  # through JSON: tuples compare as the lists stored


def test_post_mapping_in_the_papers_vocabulary():
    page1, page2 = parse_tweet_page(fixture("search_page1")), parse_tweet_page(fixture("search_page2"))
    actions = {(a.user, a.item[-3:], a.action) for a in page1.actions + page2.actions}
    assert actions == {
        ("2001", "301", "comment"),  # a post: its author's comment on it
        ("2002", "300", "comment"), ("2002", "050", "comment"),  # a reply: also a comment on the parent
        ("2001", "290", "comment"), ("2001", "050", "share"),  # a quote: also a share of the quoted post
        ("2003", "060", "share"),  # a retweet: only a share, and no item of its own
    }
    assert "1900000000000000289" not in {i.external_id for i in page2.items}
    assert page2.post_ids == ["1900000000000000290"]  # likers are asked for own posts, not retweets


def test_media_highest_bitrate_mp4_and_previews():
    page = parse_tweet_page(fixture("search_page1"))
    video = [a.uri for a in page.assets if a.modality == "video"]
    assert video == ["https://video.twimg.com/ext_tw_video/300/pu/vid/1280x720/high.mp4"]
    assert {a.uri for a in page.assets if a.modality == "image"} == {
        "https://pbs.twimg.com/media/photo301.jpg", "https://pbs.twimg.com/ext_tw_video_thumb/300/pu/img/preview.jpg"}
    reply = next(a for a in page.actions if a.item.endswith("300"))
    assert reply.duration == 30.5
    assert best_mp4([{"content_type": "application/x-mpegURL", "url": "x.m3u8"}]) is None


def test_deleted_author_is_rejected_with_the_apis_reason():
    page = parse_tweet_page(fixture("search_page1"))
    assert page.rejections == ["post 1900000000000000299: author 2404 unavailable (User has been suspended: [2404].)"]
    assert "2404" not in {u.external_id for u in page.users}
    body = fixture("search_page3")
    body["includes"]["users"] = []  # missing from includes with no errors entry either
    assert "not in includes.users" in parse_tweet_page(body).rejections[0]


def test_unreadable_times_and_missing_media_are_reported_not_fatal():
    body = fixture("search_page1")
    body["data"][0]["created_at"] = "yesterday-ish"
    body["includes"]["media"] = []
    page = parse_tweet_page(body)
    assert any(r.startswith("post 1900000000000000301:") and "yesterday-ish" in r for r in page.rejections)
    assert page.skipped == {"media_unavailable": 1}  # the reply's video; the bad post was rejected first
    assert {i.external_id[-3:] for i in page.items} == {"050", "300"}


def _page(params, meta):
    return RawResponse("/2/tweets/search/recent", params, 200, {}, {"meta": meta}, 0)


def test_cursor_moves_its_boundary_only_when_a_walk_ends():
    first = advance(None, _page({"query": "q"}, {"newest_id": "300", "next_token": "t2"}), "next_token")
    assert first == {"walk_newest": "300", "next_token": "t2"}
    assert resume_params(first, "next_token") == {"next_token": "t2"}
    done = advance(first, _page({"query": "q", "next_token": "t2"}, {"newest_id": "280"}), "next_token")
    assert done == {"newest_id": "300"}
    assert resume_params(done, "next_token") == {"since_id": "300"}
    # The next walk goes down to 300; until it ends, 300 stays the boundary.
    mid = advance(done, _page({"query": "q", "since_id": "300"}, {"newest_id": "310", "next_token": "t9"}),
                  "next_token")
    assert resume_params(mid, "next_token") == {"next_token": "t9", "since_id": "300"}
    empty = advance(mid, _page({"query": "q", "since_id": "300", "next_token": "t9"}, {"result_count": 0}),
                    "next_token")
    assert empty == {"newest_id": "310"}
    assert newest("999", "1000") == "1000"


def test_request_spec_validation_and_identity():
    a = XRequest.build(query=" #movie has:media ", since="2026-11-18", max_results=50)
    assert a.kind == "search" and a.query == "#movie has:media" and a.since == 1794960000
    assert a.tweet_params()["start_time"] == "2026-11-18T00:00:00Z"
    assert a.sha256 == XRequest.build(query="#movie has:media", since=1794960000, max_results=500).sha256
    assert a.sha256 != XRequest.build(query="#movie has:media").sha256
    assert XRequest.build(users="@Alice,alice, bob").users == ("alice", "bob")
    for bad in ({}, {"query": "x", "users": "a"}, {"users": "not a name!"}, {"query": "x", "max_results": 0},
                {"query": "x", "since": "2026-11-20", "until": "2026-11-19"}, {"query": "x", "since": "soonish"}):
        with pytest.raises(UsageError):
            XRequest.build(**bad)


def test_the_bearer_token_from_file_or_environment(tmp_path):
    assert resolve_secret(TOKEN, environ={"X_BEARER_TOKEN": " tok-env "}) == "tok-env"
    with pytest.raises(ConfigError, match="X_BEARER_TOKEN"):
        resolve_secret(TOKEN, environ={})
    for text in ("tok-file\n", "# x\nexport X_BEARER_TOKEN='tok-file'\n", '{"bearer_token": "tok-file"}'):
        path = tmp_path / "x.env"
        path.write_text(text)
        assert resolve_secret(TOKEN, path, environ={"X_BEARER_TOKEN": "tok-env"}) == "tok-file"
    path.write_text("OTHER=value\n")
    with pytest.raises(ConfigError) as caught:
        resolve_secret(TOKEN, path)
    assert "value" not in str(caught.value)  # never echoes what the file holds
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_secret(TOKEN, tmp_path / "missing.env")
