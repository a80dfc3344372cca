"""The youtube collector's pure parts: parsing saved API responses, the call plan, the
request key, credentials and quota accounting. No network."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import pytest

from timgen_data.collectors.youtube import plan
from timgen_data.collectors.youtube.credentials import (
    API_KEY_ENV,
    RedactKeyFilter,
    install_log_filter,
    redact,
    resolve_api_key,
)
from timgen_data.collectors.youtube.parse import (
    Origin,
    comment_text,
    duration_seconds,
    largest_thumbnail,
    listed_video_ids,
    parse_categories,
    parse_comment_threads,
    parse_replies,
    parse_videos,
    uploads_playlist,
)
from timgen_data.collectors.youtube.quota import QuotaLedger, QuotaStop, next_pacific_midnight, quota_reset_message
from timgen_data.collectors.youtube.request import YouTubeRequest
from timgen_data.errors import ConfigError, UsageError
from timgen_data.store import Store, load_cursor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "youtube"
DAY1 = 1_767_268_800  # 2026-01-01T12:00:00Z


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def as_plain(parsed) -> dict:
    plain = dataclasses.asdict(parsed)
    plain["rejections"] = [str(r) for r in parsed.rejections.kept]
    for item, record in zip(plain.get("items", []), getattr(parsed, "items", [])):
        item["category"] = record.category
    return json.loads(json.dumps(plain))  # tuples → lists, as in the expected files


CATEGORIES = parse_categories(fixture("video_categories.json"))


def videos(name):
    return lambda body: as_plain(parse_videos(body, CATEGORIES, origin=Origin(f"{name}.json", 1)))


def comments(name, video):
    return lambda body: as_plain(parse_comment_threads(body, video, origin=Origin(f"{name}.json", 1)))


def replies(name, video):
    return lambda body: as_plain(parse_replies(body, video, origin=Origin(f"{name}.json", 1)))


PARSERS = {
    "videos_batch1": videos("videos_batch1"),
    "videos_batch2": videos("videos_batch2"),
    "comment_threads_v1_page1": comments("comment_threads_v1_page1", "tmgVideo001"),
    "comment_threads_v1_page2": comments("comment_threads_v1_page2", "tmgVideo001"),
    "comment_threads_v3": comments("comment_threads_v3", "tmgVideo003"),
    "comments_thread_a1": replies("comments_thread_a1", "tmgVideo001"),
    "search_page1": listed_video_ids,
    "search_page2": listed_video_ids,
    "playlist_items_page1": listed_video_ids,
    "playlist_items_page2": listed_video_ids,
    "channels": uploads_playlist,
    "video_categories": parse_categories,
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_saved_responses_parse_to_the_expected_records(name):
    expected = fixture(f"{name}.expected.json")
    assert PARSERS[name](fixture(f"{name}.json")) == expected


def test_every_expected_file_is_checked():
    assert {p.name.removesuffix(".expected.json") for p in FIXTURES.glob("*.expected.json")} == set(PARSERS)


def test_videos_keep_the_contract_fields():
    parsed = parse_videos(fixture("videos_batch1.json"), CATEGORIES)
    first = parsed.items[0]
    assert (first.external_id, first.title, first.year, first.category) == (
        "tmgVideo001", "Synthetic trailer one", 2019, "Music")
    assert first.text.startswith("A made-up trailer")
    assert first.attributes["duration"] == 150 and first.attributes["viewCount"] == 1500
    assert parsed.thumbnails[0] == ("tmgVideo001", "https://i.ytimg.com/vi/tmgVideo001/maxresdefault.jpg")
    unknown = parse_videos(fixture("videos_batch1.json"), {})
    assert unknown.items[0].categories == [] and unknown.items[0].attributes["categoryId"] == "10"


def test_broken_videos_and_comments_are_rejected_with_reasons():
    videos = parse_videos({"items": [{"id": "short"}, {"id": "tmgVideo009"}]}, {}, origin=Origin("page.jsonl", 3))
    assert videos.items == [] and videos.rejections.count == 2
    assert str(videos.rejections.kept[0]).startswith("page.jsonl:3: item 1: video 'short'")
    thread = {"snippet": {"videoId": "tmgVideo001", "topLevelComment": {
        "id": "c1", "snippet": {"authorChannelId": {"value": "UCx"}, "publishedAt": "not a time"}}}}
    comments = parse_comment_threads({"items": [thread]}, "tmgVideo001")
    assert comments.comments == [] and "publishedAt" in comments.rejections.kept[0].reason


@pytest.mark.parametrize(("text", "seconds"), [
    ("PT4M13S", 253), ("PT1H", 3600), ("P1DT2H3M4S", 93784), ("P0D", 0), ("PT0S", 0), ("P1W", 604800),
    ("PT1.5S", 2), ("PT", None), ("P", None), ("4:13", None), (None, None), (42, None),
])
def test_iso_durations(text, seconds):
    assert duration_seconds(text) == seconds


def test_largest_thumbnail_by_pixels_then_by_name():
    assert largest_thumbnail({"default": {"url": "d", "width": 120, "height": 90},
                              "high": {"url": "h", "width": 480, "height": 360}}) == "h"
    assert largest_thumbnail({"default": {"url": "d"}, "standard": {"url": "s"}, "medium": {"url": "m"}}) == "s"
    assert largest_thumbnail({}) is None and largest_thumbnail(None) is None


def test_request_keys_are_stable_and_validated():
    a = YouTubeRequest("videos", ("tmgVideo001", "tmgVideo002", "tmgVideo001"))
    assert a.target == ("tmgVideo001", "tmgVideo002")
    assert a.run_key == YouTubeRequest("videos", ("tmgVideo001", "tmgVideo002")).run_key
    assert a.run_key != YouTubeRequest("videos", ("tmgVideo001", "tmgVideo002"), comments=True).run_key
    assert YouTubeRequest.from_spec(a.spec()) == a
    search = YouTubeRequest("search", " trailer 1999 ", max_results=120)
    assert search.spec() == {"mode": "search", "comments": False, "target": "trailer 1999", "max_results": 120}
    with pytest.raises(UsageError, match="not YouTube video ids: nope"):
        YouTubeRequest("videos", ("nope",))
    with pytest.raises(UsageError, match="max-results"):
        YouTubeRequest("search", "x", max_results=0)
    with pytest.raises(UsageError):
        YouTubeRequest("likes", "x")


def test_plan_batches_ids_fifty_a_call_then_pages_comments():
    ids = tuple(f"genVideo{i:03d}" for i in range(120))
    request = YouTubeRequest("videos", ids, comments=True, max_comment_pages=2)
    cursor = plan.new_cursor(request)
    batches = []
    while (call := plan.next_call(request, cursor))[0] == "videos.list":
        batch = call[1]["id"].split(",")
        batches.append(len(batch))
        cursor = plan.after_videos(cursor, batch[:-1], {})  # the last id of each batch is "not found"
    assert batches == [50, 50, 20] and len(cursor["stored"]) == 117 and len(cursor["missing"]) == 3
    method, params = call
    assert method == "commentThreads.list" and params["videoId"] == "genVideo000" and "pageToken" not in params
    cursor, truncated = plan.after_comments(request, cursor, "T2")
    assert plan.next_call(request, cursor)[1]["pageToken"] == "T2" and not truncated
    cursor, truncated = plan.after_comments(request, cursor, "T3")  # page 2 of at most 2: stop there
    assert truncated and plan.next_call(request, cursor)[1] == {
        "part": "snippet,replies", "videoId": "genVideo001", "textFormat": "plainText", "maxResults": 100}


def test_plan_reads_more_replies_by_parent_id_bounded_per_thread():
    request = YouTubeRequest("videos", ("genVideo000", "genVideo001"), comments=True, max_comment_pages=2)
    cursor = plan.after_videos(plan.new_cursor(request), ["genVideo000", "genVideo001"], {})
    more = [["genVideo000", "UgxT1", 250], ["genVideo000", "UgxT2", 7]]
    cursor, _ = plan.after_comments(request, cursor, "P2", more)
    assert plan.after_comments(request, cursor, "P3", more[1:])[0]["replies"]["threads"] == more  # listed again
    assert plan.next_call(request, cursor) == ("comments.list", {
        "part": "snippet", "parentId": "UgxT1", "textFormat": "plainText", "maxResults": 100})
    cursor, left, truncated = plan.after_replies(request, cursor, "R2", 100)
    assert (left, truncated) == (0, False) and plan.next_call(request, cursor)[1]["pageToken"] == "R2"
    cursor, left, truncated = plan.after_replies(request, cursor, "R3", 100)  # page 2 of at most 2
    assert (left, truncated) == (50, True)
    assert plan.next_call(request, cursor)[1] == {"part": "snippet", "parentId": "UgxT2", "textFormat": "plainText",
                                                  "maxResults": 100}
    cursor, left, truncated = plan.after_replies(request, cursor, None, 7)
    assert (left, truncated) == (0, False)
    # The threads' replies done, the video's next comment page.
    assert plan.next_call(request, cursor) == ("commentThreads.list", {
        "part": "snippet,replies", "videoId": "genVideo000", "textFormat": "plainText", "maxResults": 100,
        "pageToken": "P2"})
    old = plan.after_videos(plan.new_cursor(request), ["genVideo000"], {})
    del old["replies"]  # a cursor saved before replies were read resumes as it was
    assert plan.next_call(request, old)[0] == "commentThreads.list"
    assert plan.after_comments(request, old, None, more)[0]["replies"]["threads"] == more


def test_video_status_and_topics_are_kept():
    video = fixture("videos_batch1.json")["items"][0]
    wiki = "https://en.wikipedia.org/wiki/"
    topics = {"topicCategories": [f"{wiki}Role-playing_video_game", f"{wiki}Music", f"{wiki}Lifestyle_%28sociology%29"]}
    item = parse_videos({"items": [{**video, "topicDetails": topics}]}, CATEGORIES).items[0]
    assert item.category == "Music"  # the class label stays YouTube's category
    assert item.categories == ["Music", "Role-playing video game", "Lifestyle (sociology)"]
    assert item.attributes["topicCategories"] == topics["topicCategories"]
    assert (item.attributes["privacyStatus"], item.attributes["madeForKids"]) == ("public", False)
    unknown = parse_videos({"items": [{**video, "topicDetails": topics}]}, {}).items[0]
    assert unknown.categories == [] and unknown.attributes["topicCategories"] == topics["topicCategories"]


@pytest.mark.parametrize(("snippet", "text"), [
    ({"textOriginal": "a &amp; b", "textDisplay": "x"}, "a &amp; b"),  # as written: never decoded
    ({"textDisplay": "Lot&#39;s <b>bold</b><br>&quot;q&quot; <a href=\"https://x/?a=1&amp;b=2\">1:05</a>"},
     "Lot's bold\n\"q\" 1:05"),
    ({"textDisplay": "1 < 2 and 3 > 2"}, "1 < 2 and 3 > 2"),  # plain text with no markup stays as it is
    ({"textDisplay": ""}, None), ({}, None),
])
def test_comment_text_is_plain(snippet, text):
    assert comment_text(snippet) == text


def test_plan_listing_is_bounded_by_max_results_and_tokens():
    request = YouTubeRequest("search", "q", max_results=3)
    cursor = plan.new_cursor(request)
    assert plan.next_call(request, cursor) == (
        "search.list", {"part": "id", "q": "q", "type": "video", "maxResults": 3})
    cursor = plan.after_listing(request, cursor, ["tmgVideo001", "tmgVideo002"], "NEXT")
    assert plan.next_call(request, cursor)[0] == "videos.list"
    cursor = plan.after_videos(cursor, ["tmgVideo001", "tmgVideo002"], {})
    params = plan.next_call(request, cursor)[1]
    assert params["maxResults"] == 1 and params["pageToken"] == "NEXT"
    cursor = plan.after_listing(request, cursor, ["tmgVideo002", "tmgVideo003", "tmgVideo004"], "MORE")
    assert cursor["found"] == ["tmgVideo001", "tmgVideo002", "tmgVideo003"] and cursor["listing"]["done"]
    repeat = plan.after_listing(YouTubeRequest("search", "q", max_results=99), plan.new_cursor(request), [], None)
    assert repeat["listing"]["done"]  # no next page token: the listing ends


def test_channel_handles_and_ids():
    by_handle = YouTubeRequest("channel", "@timgen")
    assert plan.next_call(by_handle, plan.new_cursor(by_handle)) == (
        "channels.list", {"part": "contentDetails", "forHandle": "@timgen"})
    by_id = YouTubeRequest("channel", "UCtimgenChannel000000001")
    cursor = plan.after_channel(plan.new_cursor(by_id), "UUtimgenChannel000000001")
    assert plan.next_call(by_id, cursor)[1]["playlistId"] == "UUtimgenChannel000000001"
    assert plan.next_call(by_id, plan.after_channel(plan.new_cursor(by_id), None)) is None


def test_api_key_from_environment_or_file(tmp_path):
    assert resolve_api_key(environ={API_KEY_ENV: " k1 "}) == "k1"
    plain = tmp_path / "key.txt"
    plain.write_text("k2\n")
    as_json = tmp_path / "key.json"
    as_json.write_text('{"api_key": "k3"}')
    assert resolve_api_key(plain, environ={API_KEY_ENV: "k1"}) == "k2"
    assert resolve_api_key(as_json) == "k3"
    with pytest.raises(ConfigError) as missing:
        resolve_api_key(environ={})
    assert API_KEY_ENV in str(missing.value) and "--credentials" in str(missing.value)
    broken = tmp_path / "broken.json"
    broken.write_text('{"token": "sekrit-value"}')
    with pytest.raises(ConfigError) as no_key:
        resolve_api_key(broken)
    assert "sekrit" not in str(no_key.value)


def test_key_is_redacted_from_text_and_library_logs(caplog):
    url = "GET https://youtube.googleapis.com/youtube/v3/videos?part=id&key=AIzaSECRET&alt=json"
    assert redact(url) == url.replace("AIzaSECRET", "REDACTED")
    assert redact("the key AIzaSECRET leaked", "AIzaSECRET") == "the key REDACTED leaked"
    install_log_filter()
    install_log_filter()
    logger = logging.getLogger("googleapiclient.discovery")
    assert sum(isinstance(f, RedactKeyFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.DEBUG, logger="googleapiclient.discovery"):
        logger.debug("URL being requested: %s", url)
    assert "AIzaSECRET" not in caplog.text and "key=REDACTED" in caplog.text


def test_quota_ledger_counts_per_utc_day_across_runs(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'q.sqlite'}")
    now = [DAY1]
    ledger = QuotaLedger(store, 250, clock=lambda: now[0])
    ledger.charge("search.list")
    ledger.charge("videos.list")
    with store.begin() as conn:
        ledger.save(conn)
    again = QuotaLedger(store, 250, clock=lambda: now[0])
    again.charge("search.list")  # 201 of 250
    with pytest.raises(QuotaStop):
        again.charge("search.list")
    again.charge("videos.list")  # a cheaper call still fits
    with store.begin() as conn:
        again.save(conn)
        assert load_cursor(conn, "youtube", "quota:2026-01-01")["used"] == 202
    now[0] += 86_400
    again.charge("search.list")  # a new UTC day: a fresh budget
    assert again.day == "2026-01-02" and again.used == 100
    again.mark_exhausted()  # the API said so: nothing more that day
    with pytest.raises(QuotaStop):
        again.charge("videos.list")
    store.dispose()


def test_quota_message_says_when_and_what_to_do():
    message = quota_reset_message(DAY1, api_said=False, used=9_950, daily=10_000)
    assert "midnight Pacific Time" in message and "re-run the same command" in message
    assert "9950 of 10000" in message and "2026-01-02 08:00 UTC" in message  # PST is UTC-8 in January
    assert next_pacific_midnight(1_782_864_000).hour == 0  # 2026-07-01: PDT
    assert "quotaExceeded" in quota_reset_message(DAY1, api_said=True, used=0, daily=10_000)
