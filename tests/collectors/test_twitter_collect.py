"""``collect_twitter`` end to end against a scripted X API: paging, media, likes, rate limits,
incremental and interrupted runs, and ``--load`` giving the store the live runs gave."""

from __future__ import annotations

import json

import pytest
from support.x_api import NOW, QUERY, SEARCH, FakeClock, FakeXApi, fixture, script_search, snapshot

from timgen_data.collectors.api import RawLog, RawResponse, read_log
from timgen_data.collectors.twitter import XClient, XRequest, collect_twitter, raw_path
from timgen_data.errors import RateLimitError
from timgen_data.store import Store, fetch_rows, load_cursor

TOKEN = "tok-COLLECT-51d0e2"
ENV = {"X_BEARER_TOKEN": TOKEN}
P = "1900000000000000"  # the fixtures' post ids share this prefix


def run(store, api, tmp_path, clock=None, **spec):
    clock = clock or FakeClock()
    request = XRequest.build(**{"query": QUERY, **spec})
    return collect_twitter(store, request, data_dir=tmp_path / "data", base_url=api.url, environ=ENV,
                           sleep=clock.sleep, clock=clock)


def clean_run(tmp_path, **spec):
    """The store one uninterrupted run gives (the reference for resumed ones)."""
    store = Store.open(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    with FakeXApi() as api:
        script_search(api)
        run(store, api, tmp_path / "clean", **spec)
    rows = snapshot(store)
    store.dispose()
    return rows


def test_search_pages_posts_media_and_rejections(store, tmp_path):
    with FakeXApi() as api:
        script_search(api)
        report = run(store, api, tmp_path, since="2026-11-18", max_results=300)
        pages = api.calls(SEARCH)
    assert [p.params.get("next_token") for p in pages] == [None, "tok-2", "tok-3"]
    first = pages[0].params
    assert first["query"] == QUERY and first["max_results"] == "100"
    assert first["start_time"] == "2026-11-18T00:00:00Z"
    assert first["expansions"] == "author_id,attachments.media_keys,referenced_tweets.id"
    assert first["tweet.fields"] == ("created_at,public_metrics,attachments,entities,referenced_tweets,"
                                     "conversation_id,lang,note_tweet")
    assert first["user.fields"] == "created_at,username,name,public_metrics"
    assert first["media.fields"] == "type,url,preview_image_url,variants,duration_ms,width,height"

    rows = snapshot(store)
    assert [u[0] for u in rows["users"]] == ["2001", "2002", "2003"]  # the suspended 2404 is not stored
    alice = {k: v for k, v in fixture("search_page1")["includes"]["users"][0].items() if k != "id"}
    assert json.loads(rows["users"][0][1]) == alice  # username, name, created_at, public_metrics
    items = {i[0][-3:]: i for i in rows["items"]}
    assert sorted(items) == ["050", "060", "280", "290", "300", "301"]
    assert items["301"][4] == "Movie" and json.loads(items["301"][5]) == ["Movie", "cinema"]
    assert items["280"][4] == ""  # no hashtag, no category
    assert json.loads(items["300"][6])["author_id"] == "2002" and items["300"][2].startswith("@studio")
    assert {(i[0], i[1][-3:], i[3]) for i in rows["interactions"]} == {
        ("2001", "301", "comment"), ("2002", "300", "comment"), ("2002", "050", "comment"),
        ("2001", "290", "comment"), ("2001", "050", "share"), ("2003", "060", "share"), ("2002", "280", "comment"),
    }
    assert ("2002", P + "300", 1795167000, "comment", None, 30.5) in rows["interactions"]
    assert {(a[0][-3:], a[1], a[2].rsplit("/", 1)[-1], a[3]) for a in rows["assets"]} == {
        ("301", "image", "photo301.jpg", "pending"),
        ("300", "video", "high.mp4", "pending"), ("300", "image", "preview.jpg", "pending"),
        ("290", "video", "gif290.mp4", "pending"), ("290", "image", "gif290.jpg", "pending"),
    }
    cursors = [(key, json.loads(value)) for key, value in rows["cursors"]]
    assert cursors == [(f"search:{QUERY}", {"newest_id": P + "301"})]
    assert report.rejections.count == 1 and "author 2404 unavailable" in str(report.rejections.kept[0])
    raw_name = raw_path(tmp_path / "data", XRequest.build(query=QUERY, since="2026-11-18")).name
    assert str(report.rejections.kept[0]).startswith(f"{raw_name}:2: post {P}299")  # the file's line
    assert report.read["posts"] == 6 and report.written == {"interactions": 7, "assets": 5}
    assert report.stored == {"users": 3, "items": 6, "interactions": 7, "assets": 5}
    with store.begin() as conn:
        assert fetch_rows(conn, "SELECT collector, variant, status FROM sources") == [("twitter", "search", "complete")]
        texts = dict(fetch_rows(conn, "SELECT i.external_id, x.text FROM interactions x JOIN items i ON i.id = x.item_id "
                                      "WHERE x.action = 'comment'"))
    assert texts[P + "300"] == "@studio the trailer looks great #movie"  # the post as its author wrote it


def test_engagement_stores_likes_once_at_the_time_first_seen(sqlite_store, tmp_path):
    with FakeXApi() as api:
        script_search(api)
        report = run(sqlite_store, api, tmp_path, engagement=True)
        liking = [r for r in api.requests if r.path.endswith("/liking_users")]
        assert len(liking) == 4 and liking[0].params["max_results"] == "100"
        # Another query finds the same post an hour later: its likers are asked for again.
        overlap = fixture("search_page1")
        del overlap["meta"]["next_token"]
        api.reply(SEARCH, overlap, params={"query": "#cinema"}, before=True)
        again = run(sqlite_store, api, tmp_path, clock=FakeClock(NOW + 3600), query="#cinema", engagement=True)
    likes = [i for i in snapshot(sqlite_store)["interactions"] if i[3] == "like"]
    assert likes == [("3001", P + "301", NOW, "like", None, None), ("3002", P + "301", NOW, "like", None, None)]
    assert report.read["likes"] == 2 and any("first collected" in note for note in report.notes)
    assert again.skipped["likes_seen_before"] == 2 and again.written.get("interactions", 0) == 0


def test_the_second_run_asks_only_for_newer_posts(sqlite_store, tmp_path):
    with FakeXApi() as api:
        script_search(api)
        run(sqlite_store, api, tmp_path)
        api.reply(SEARCH, fixture("search_newer"), params={"since_id": P + "301"})
        report = run(sqlite_store, api, tmp_path)
        second = api.calls(SEARCH)[3:]
    assert [r.params.get("since_id") for r in second] == [P + "301"]
    assert report.read["posts"] == 1 and report.written == {"interactions": 1}
    with sqlite_store.begin() as conn:
        assert load_cursor(conn, "twitter", f"search:{QUERY}") == {"newest_id": P + "310"}


def test_a_429_is_waited_out_through_the_injected_sleep(sqlite_store, tmp_path):
    clock = FakeClock()
    with FakeXApi() as api:
        script_search(api)
        api.reply(SEARCH, {"title": "Too Many Requests"}, params={"next_token": "tok-2"}, status=429,
                  headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(NOW + 120)}, before=True)
        run(sqlite_store, api, tmp_path, clock=clock)
    assert clock.sleeps == [121]
    assert snapshot(sqlite_store) == clean_run(tmp_path)


def test_a_rate_limit_beyond_max_wait_stops_with_the_cursor_and_a_rerun_resumes(sqlite_store, tmp_path):
    with FakeXApi() as api:
        script_search(api)
        api.reply(SEARCH, {"title": "Too Many Requests"}, params={"next_token": "tok-2"}, status=429,
                  headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(NOW + 7200)}, before=True)
        with pytest.raises(RateLimitError) as caught:
            run(sqlite_store, api, tmp_path)
        assert "re-run after 2026-11-20T20:40:00Z" in str(caught.value)
        partial = caught.value.report
        assert partial.read["posts"] == 3 and partial.stored["items"] == 3
        with sqlite_store.begin() as conn:
            assert load_cursor(conn, "twitter", f"search:{QUERY}")["next_token"] == "tok-2"
            assert fetch_rows(conn, "SELECT status FROM sources") == [("stopped",)]
        run(sqlite_store, api, tmp_path, clock=FakeClock(NOW + 7201))
        tokens = [r.params.get("next_token") for r in api.calls(SEARCH)]
    assert tokens == [None, "tok-2", "tok-2", "tok-3"]  # page 1 is not fetched again
    assert snapshot(sqlite_store) == clean_run(tmp_path)


def test_an_interrupted_run_resumes_without_duplicates(sqlite_store, tmp_path, monkeypatch):
    original, calls = XClient.get, []

    def failing_get(self, endpoint, path, params):
        calls.append(path)
        if path == SEARCH and calls.count(SEARCH) == 2:
            raise KeyboardInterrupt("killed after page 1")
        return original(self, endpoint, path, params)

    with FakeXApi() as api:
        script_search(api)
        monkeypatch.setattr(XClient, "get", failing_get)
        with pytest.raises(KeyboardInterrupt):
            run(sqlite_store, api, tmp_path, engagement=True)
        monkeypatch.setattr(XClient, "get", original)
        assert len(snapshot(sqlite_store)["items"]) == 3  # page 1 and its likers were committed
        report = run(sqlite_store, api, tmp_path, engagement=True)
    assert report.read["posts"] == 3  # pages 2 and 3 only
    assert snapshot(sqlite_store) == clean_run(tmp_path, engagement=True)


def test_load_of_the_raw_file_gives_the_same_store(sqlite_store, tmp_path):
    clock = FakeClock()
    with FakeXApi() as api:
        script_search(api)
        api.reply(SEARCH, {"title": "Service Unavailable"}, params={"next_token": "tok-3"}, status=503, before=True)
        run(sqlite_store, api, tmp_path, clock=clock, engagement=True)
        api.reply(SEARCH, fixture("search_newer"), params={"since_id": P + "301"})
        run(sqlite_store, api, tmp_path, clock=clock, engagement=True)
    raw = raw_path(tmp_path / "data", XRequest.build(query=QUERY, engagement=True))
    lines = [json.loads(line) for line in raw.read_text().splitlines()]
    assert [entry["kind"] for entry in lines].count("run") == 2 and {e.get("status") for e in lines} >= {200, 503}
    assert TOKEN not in raw.read_text()
    replayed = Store.open(f"sqlite:///{tmp_path / 'replayed.sqlite'}")
    report = collect_twitter(replayed, None, load=raw)
    assert report.skipped["error_responses"] == 1 and report.rejections.count == 1
    assert snapshot(replayed) == snapshot(sqlite_store)
    collect_twitter(replayed, None, load=raw)  # replaying again changes nothing
    assert snapshot(replayed) == snapshot(sqlite_store)
    replayed.dispose()


def test_user_timelines_page_with_pagination_tokens(sqlite_store, tmp_path):
    with FakeXApi() as api:
        api.reply("/2/users/by", fixture("users_by"))
        api.reply("/2/users/2001/tweets", fixture("timeline_alice_1"), params={"pagination_token": None})
        api.reply("/2/users/2001/tweets", fixture("timeline_alice_2"), params={"pagination_token": "alice-2"})
        api.reply("/2/users/2002/tweets", fixture("timeline_bob"))
        report = run(sqlite_store, api, tmp_path, query=None, users="alice,@Bob,ghost", max_results=10)
        lookup = api.calls("/2/users/by")[0].params
        timeline = api.calls("/2/users/2001/tweets")
    assert lookup == {"usernames": "alice,bob,ghost", "user.fields": "created_at,username,name,public_metrics"}
    assert [r.params.get("pagination_token") for r in timeline] == [None, "alice-2"]
    assert timeline[0].params["max_results"] == "10" and timeline[1].params["max_results"] == "9"
    rows = snapshot(sqlite_store)
    assert {(i[0], i[1][-3:], i[3]) for i in rows["interactions"]} == {
        ("2001", "301", "comment"), ("2001", "201", "comment"), ("2002", "280", "comment")}
    assert [c[0] for c in rows["cursors"]] == ["user:2001", "user:2002"]
    assert report.variant == "users" and "user @ghost: Could not find user" in str(report.rejections.kept[0])


def test_max_results_stops_early_and_the_next_run_continues_the_walk(sqlite_store, tmp_path):
    with FakeXApi() as api:
        script_search(api)
        first = run(sqlite_store, api, tmp_path, max_results=2)
        assert api.calls(SEARCH)[0].params["max_results"] == "10"  # the endpoint's minimum
        assert first.skipped["walks_left_for_the_next_run"] == 1
        run(sqlite_store, api, tmp_path, max_results=2)
        run(sqlite_store, api, tmp_path, max_results=2)
        tokens = [r.params.get("next_token") for r in api.calls(SEARCH)]
    assert tokens == [None, "tok-2", "tok-3"]
    assert snapshot(sqlite_store) == clean_run(tmp_path)


def test_a_hand_written_raw_file_replays_and_bad_lines_are_rejected(sqlite_store, tmp_path):
    raw = tmp_path / "hand.jsonl"
    page = {"path": SEARCH, "params": {"query": QUERY}, "status": 200, "body": fixture("search_page3")}
    raw.write_text("not json at all\n" + json.dumps(page) + "\n", encoding="utf-8")
    report = collect_twitter(sqlite_store, None, load=raw)
    assert [str(r) for r in report.rejections.kept] == ["hand.jsonl:1: not JSON: Expecting value (column 1)"]
    assert report.variant == "load" and [i[0] for i in snapshot(sqlite_store)["items"]] == [P + "280"]


def test_the_raw_log_ends_a_line_a_killed_run_left_half_written(tmp_path):
    raw = tmp_path / "x.jsonl"
    raw.write_text('{"kind": "run"}\n{"kind": "resp', encoding="utf-8")
    with RawLog(raw) as log:
        written = log.append(RawResponse(SEARCH, {"query": QUERY}, 200, {}, {"meta": {}}, NOW))
    assert written.line == 3
    assert [(e.line, e.problem is None) for e in read_log(raw)] == [(1, True), (2, False), (3, True)]
