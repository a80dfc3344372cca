"""collect_youtube end to end: the real googleapiclient talking to a loopback server that
answers in the YouTube Data API v3's JSON shape (tests/fixtures/youtube/routes.json).

Time is injected: ``clock`` fixes the quota day, ``sleep`` records retry waits.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path

import pytest
from support.http_server import LoopbackServer
from support.progress import RecordingProgress

from timgen_data.collectors.youtube import YouTubeApi, YouTubeRequest, collect_youtube, raw_path, request_from_file
from timgen_data.collectors.youtube.quota import quota_key
from timgen_data.errors import ConfigError, DownloadError, UsageError
from timgen_data.store import Store, fetch_rows, load_cursor

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "youtube"
SECRET = "AIzaTIMGEN-test-secret-0123456789"
DAY1 = 1_767_268_800  # 2026-01-01T12:00:00Z
DAY2 = DAY1 + 86_400
V1, V2, V3, V4 = "tmgVideo001", "tmgVideo002", "tmgVideo003", "tmgVideo004"
SEARCH = YouTubeRequest("search", "trailer 1999", comments=True)
JSON = {"Content-Type": "application/json; charset=UTF-8"}


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def serve_routes(server: LoopbackServer) -> None:
    for route in fixture("routes.json"):
        server.add_json(route["path"], fixture(route["file"]), query=route["query"], status=route.get("status", 200))


@pytest.fixture
def api():
    with LoopbackServer() as server:
        serve_routes(server)
        yield server


def api_calls(server: LoopbackServer) -> list[tuple[str, dict]]:
    return [(r.path.rsplit("/", 1)[-1], r.params) for r in server.requests if r.path.startswith("/youtube/v3/")]


def open_store(path: Path) -> Store:
    return Store.open(f"sqlite:///{path}")


def run(store, server, data_dir, request=SEARCH, *, clock=DAY1, sleeps=None, **kwargs):
    return collect_youtube(store, request, data_dir=data_dir, api_key=SECRET, base_url=server.url,
                           clock=lambda: clock, sleep=(sleeps if sleeps is not None else []).append, **kwargs)


def snapshot(store: Store) -> dict[str, list]:
    """Everything a run stores, by external ids (surrogate ids may differ between stores)."""
    with store.begin() as conn:
        return {
            "items": fetch_rows(conn, "SELECT source, external_id, title, text, year, category, categories, attributes "
                                      "FROM items ORDER BY external_id"),
            "users": fetch_rows(conn, "SELECT source, external_id, attributes FROM users ORDER BY external_id"),
            "interactions": fetch_rows(conn, """
                SELECT u.external_id, i.external_id, x.ts, x.action, x.value, x.duration, s.sha256, x.text
                FROM interactions x JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id
                JOIN sources s ON s.id = x.source_id ORDER BY 1, 2, 3"""),
            "assets": fetch_rows(conn, "SELECT i.external_id, a.modality, a.uri, a.status FROM assets a "
                                       "JOIN items i ON i.id = a.item_id ORDER BY 1, 2, 3"),
            "sources": fetch_rows(conn, "SELECT collector, variant, namespace, sha256, license, status FROM sources"),
        }


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """One uninterrupted live run of SEARCH: what every resumed or replayed run must equal."""
    folder = tmp_path_factory.mktemp("clean")
    with LoopbackServer() as server:
        serve_routes(server)
        store = open_store(folder / "store.sqlite")
        progress = RecordingProgress()
        report = run(store, server, folder / "data", progress=progress)
        result = snapshot(store), report, api_calls(server), progress.events
        store.dispose()
    return result


def test_search_with_comments_through_the_real_client(clean):
    shot, report, calls, events = clean
    assert not report.stopped and report.message is None
    # The api_endpoint override sent every call to the loopback server, key included.
    assert [name for name, _ in calls] == ["search", "videos", "videoCategories", "search", "videos",
                                           "videoCategories", "commentThreads", "comments"] + ["commentThreads"] * 4
    assert calls[0][1] == {"part": "id", "q": "trailer 1999", "type": "video", "maxResults": "50", "key": SECRET,
                           "alt": "json"}
    assert calls[3][1]["pageToken"] == "CAIQAA"
    assert calls[1][1]["id"] == f"{V1},{V2}"
    assert calls[1][1]["part"] == "snippet,contentDetails,statistics,status,topicDetails"
    assert calls[2][1]["id"] == "1,10" and calls[5][1]["id"] == "24"  # the category map is cached per run
    assert calls[6][1] == {"part": "snippet,replies", "videoId": V1, "textFormat": "plainText", "maxResults": "100",
                           "key": SECRET, "alt": "json"}
    # Thread A1 counts 5 replies and carries 2: the rest are asked for by parentId.
    assert calls[7][1] == {"part": "snippet", "parentId": "UgxThreadA1", "textFormat": "plainText",
                           "maxResults": "100", "key": SECRET, "alt": "json"}
    assert calls[8][1]["pageToken"] == "QURTSl9pM"

    items = {row[1]: row for row in shot["items"]}
    assert set(items) == {V1, V2, V3, V4}
    assert [items[v][5] for v in (V1, V2, V3, V4)] == ["Music", "Film & Animation", "Entertainment", "Music"]
    assert items[V1][4] == 2019 and json.loads(items[V1][7])["duration"] == 150
    assert json.loads(items[V1][6]) == ["Music", "Pop music"]  # the topics follow the category
    assert json.loads(items[V1][7])["license"] == "creativeCommon"
    assert [u[1] for u in shot["users"]] == ["UCuserAlice0000000000001", "UCuserBob000000000000002",
                                             "UCuserCarol0000000000003", "UCuserDave00000000000004"]
    comments = shot["interactions"]
    assert len(comments) == 7 and {c[3] for c in comments} == {"comment"} and {c[4] for c in comments} == {None}
    assert ("UCuserAlice0000000000001", V1, 1559469600, "comment", None, 150.0, SEARCH.sha256,
            "Looks great") in comments
    assert ("UCuserBob000000000000002", V3, 1640995200, "comment", None, 45.0, SEARCH.sha256, "First!") in comments
    # Replies read by comments.list; r3 has only its HTML display form.
    assert ("UCuserCarol0000000000003", V1, 1559635200, "comment", None, 150.0, SEARCH.sha256,
            "Same & more\nsee 1:05") in comments
    assert ("UCuserDave00000000000004", V1, 1559727000, "comment", None, 150.0, SEARCH.sha256, "Thanks") in comments
    assert shot["assets"] == [(v, "image", f"https://i.ytimg.com/vi/{v}/{name}.jpg", "pending")
                              for v, name in ((V1, "maxresdefault"), (V2, "hqdefault"), (V3, "maxresdefault"),
                                              (V4, "maxresdefault"))]
    assert shot["sources"][0][:4] == ("youtube", "search", "youtube", SEARCH.sha256)
    assert shot["sources"][0][5] == "complete"

    reasons = [str(r) for r in report.rejections.kept]
    assert any("no authorChannelId" in r for r in reasons)
    assert any(f"video {V2}: comments skipped: HTTP 403 commentsDisabled" in r for r in reasons)
    assert report.skipped["comments_skipped"] == 1 and report.skipped["replies_not_returned"] == 1  # 5 counted, 4 sent
    assert report.written == {"items": 4, "users": 4, "interactions": 7, "assets": 4}
    assert report.read == {"responses": 12, "videos": 4, "comments": 10}
    assert report.quota["used"] == 2 * 100 + 2 + 2 + 5 + 1 and report.quota["day"] == "2026-01-01"
    assert report.stored["items"] == 4 and report.stored["interactions"] == 7
    assert events[0] == ("start", "youtube videos", None, "videos") and events[-1] == ("finish", "youtube comments")
    assert sum(e[2] for e in events if e[:2] == ("advance", "youtube videos")) == 4
    assert sum(e[2] for e in events if e[:2] == ("advance", "youtube comments")) == 8  # r1 read twice


def test_ids_are_fetched_fifty_a_call_and_missing_ones_reported(api, tmp_path):
    ids = [f"genVideo{i:03d}" for i in range(60)]
    template = fixture("videos_batch1.json")["items"][0]

    def body(batch):
        items = []
        for video_id in batch:
            item = copy.deepcopy(template)
            item["id"] = video_id
            items.append(item)
        return {"kind": "youtube#videoListResponse", "items": items, "pageInfo": {"totalResults": len(items)}}

    first = [i for i in ids[:50] if i != "genVideo007"]  # deleted: the API just leaves it out
    api.add_json("/youtube/v3/videos", body(first), query={"id": ",".join(ids[:50])})
    api.add_json("/youtube/v3/videos", body(ids[50:]), query={"id": ",".join(ids[50:])})
    store = open_store(tmp_path / "s.sqlite")
    report = run(store, api, tmp_path / "data", YouTubeRequest("videos", tuple(ids)))
    videos = [p for name, p in api_calls(api) if name == "videos"]
    assert [len(p["id"].split(",")) for p in videos] == [50, 10]
    assert report.stored["items"] == 59 and report.skipped["videos_not_found"] == 1
    assert any("video genVideo007 not found" in str(r) and "deleted" in str(r) for r in report.rejections.kept)


def test_a_deleted_video_in_a_channel_is_reported_not_found(api, tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    report = run(store, api, tmp_path / "data", YouTubeRequest("channel", "UCtimgenChannel000000001"))
    assert [name for name, _ in api_calls(api)] == ["channels", "playlistItems", "videos", "videoCategories",
                                                     "playlistItems", "videos", "videoCategories"]
    assert report.stored["items"] == 3 and report.skipped["videos_not_found"] == 1
    assert any("video tmgDeleted1 not found" in str(r) for r in report.rejections.kept)
    with pytest.raises(UsageError, match="--playlist PLmissing.*playlistNotFound"):
        run(store, api, tmp_path / "data", YouTubeRequest("playlist", "PLmissing"))
    nobody = {"kind": "youtube#channelListResponse", "items": []}
    api.add_json("/youtube/v3/channels", nobody, query={"forHandle": "@nobody"})
    with pytest.raises(UsageError, match="channel @nobody was not found"):
        run(store, api, tmp_path / "data", YouTubeRequest("channel", "@nobody"))
    with pytest.raises(UsageError, match="not an http"):
        collect_youtube(store, SEARCH, data_dir=tmp_path / "data", api_key=SECRET, base_url="youtube.example")


def test_local_quota_stops_cleanly_and_resumes_the_next_day(api, tmp_path, clean):
    store = open_store(tmp_path / "s.sqlite")
    data = tmp_path / "data"
    # 100 (search) + 1 (videos) + 1 (categories) fit; the second search page would not.
    first = run(store, api, data, daily_quota=150)
    assert first.stopped and "--daily-quota (102 of 150 units used today)" in first.message
    assert "midnight Pacific Time" in first.message and "re-run the same command" in first.message
    with store.begin() as conn:
        assert load_cursor(conn, "youtube", quota_key("2026-01-01"))["used"] == 102
        cursor = load_cursor(conn, "youtube", f"run:{SEARCH.run_key}")
    assert cursor["listing"]["page_token"] == "CAIQAA" and cursor["stored"] == [V1, V2]
    assert snapshot(store)["sources"][0][5] == "stopped"

    calls = len(api.requests)
    same_day = run(store, api, data, daily_quota=150)
    assert same_day.stopped and len(api.requests) == calls  # not one call wasted
    assert same_day.resumed_from == cursor["steps"]

    resumed = run(store, api, data, daily_quota=150, clock=DAY2)
    assert not resumed.stopped, resumed.message
    # The second day's run went on from search page 2, not from the start.
    assert [p.get("pageToken") for name, p in api_calls(api)[3:] if name == "search"] == ["CAIQAA"]
    assert snapshot(store) == clean[0]


def test_api_quota_exceeded_mid_run_resumes_with_no_duplicates(api, tmp_path, clean):
    store = open_store(tmp_path / "s.sqlite")
    data = tmp_path / "data"
    quota = json.dumps(fixture("error_quota_exceeded.json")).encode()
    # The first comment page answers 403 quotaExceeded; every video is already stored.
    api.add_faults("/youtube/v3/commentThreads", [("status", 403, JSON, quota)])
    first = run(store, api, data)
    assert first.stopped and "quotaExceeded" in first.message and "midnight Pacific Time" in first.message
    assert snapshot(store)["interactions"] == [] and len(snapshot(store)["items"]) == 4
    with store.begin() as conn:
        assert load_cursor(conn, "youtube", quota_key("2026-01-01"))["exhausted"] is True

    calls = len(api.requests)
    same_day = run(store, api, data)
    assert same_day.stopped and len(api.requests) == calls  # the same day: nothing more to try
    assert "quotaExceeded" in same_day.message

    resumed = run(store, api, data, clock=DAY2)
    assert not resumed.stopped
    # Straight back to comments (and the replies of thread A1).
    assert [name for name, _ in api_calls(api)[calls:]] == ["commentThreads", "comments"] + ["commentThreads"] * 4
    assert snapshot(store) == clean[0]


@pytest.mark.postgres
def test_interrupted_run_resumes_on_both_stores(store, api, tmp_path, monkeypatch, clean):
    real_call = YouTubeApi.call
    made = []

    def dies_after_first_page(self, method, params):
        if len(made) == 3:  # search page 1, its videos and their categories are done
            raise KeyboardInterrupt
        made.append(method)
        return real_call(self, method, params)

    monkeypatch.setattr(YouTubeApi, "call", dies_after_first_page)
    with pytest.raises(KeyboardInterrupt):
        run(store, api, tmp_path / "data")
    assert [row[1] for row in snapshot(store)["items"]] == [V1, V2]
    monkeypatch.setattr(YouTubeApi, "call", real_call)
    again = run(store, api, tmp_path / "data")
    assert not again.stopped and again.resumed_from == 2  # search page 1 and its videos
    assert snapshot(store) == clean[0]
    # A finished request run again starts over and changes nothing.
    run(store, api, tmp_path / "data")
    assert snapshot(store) == clean[0]


def test_load_replays_to_the_same_store(api, tmp_path, clean):
    live = open_store(tmp_path / "live.sqlite")
    data = tmp_path / "data"
    quota = json.dumps(fixture("error_quota_exceeded.json")).encode()
    api.add_faults("/youtube/v3/commentThreads", [("status", 403, JSON, quota)])
    assert run(live, api, data).stopped
    assert not run(live, api, data, clock=DAY2).stopped  # the raw file now holds both runs
    saved = raw_path(data, SEARCH)
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert sum(line["kind"] == "run" for line in lines) == 2
    assert {line["status"] for line in lines if line["kind"] == "response"} == {200, 403}

    replayed = open_store(tmp_path / "replayed.sqlite")
    report = collect_youtube(replayed, request_from_file(saved), data_dir=tmp_path / "other", load=saved)
    assert not report.stopped and report.quota is None
    assert snapshot(replayed) == snapshot(live) == clean[0]
    assert any("commentsDisabled" in str(r) for r in report.rejections.kept)

    # A file from a run that stopped ends where it stopped; replaying it stops there too.
    partial = tmp_path / "partial.jsonl"
    partial.write_text("\n".join(saved.read_text().splitlines()[:4]) + "\n")
    cut = collect_youtube(open_store(tmp_path / "cut.sqlite"), SEARCH, data_dir=tmp_path / "other", load=partial)
    assert cut.stopped and "holds no answer to" in cut.message


def test_a_file_saved_before_replies_were_read_still_replays(api, tmp_path, clean):
    data = tmp_path / "data"
    assert not run(open_store(tmp_path / "live.sqlite"), api, data).stopped
    earlier = tmp_path / "earlier.jsonl"  # as runs saved it when videos.list asked for three parts, no replies
    with earlier.open("w") as out:
        for line in raw_path(data, SEARCH).read_text().splitlines():
            record = json.loads(line)
            if record.get("path") == "comments.list":
                continue
            if record.get("path") == "videos.list":
                record["params"]["part"] = "snippet,contentDetails,statistics"
            out.write(json.dumps(record) + "\n")
    replayed = open_store(tmp_path / "replayed.sqlite")
    report = collect_youtube(replayed, SEARCH, data_dir=tmp_path / "other", load=earlier)
    assert not report.stopped, report.message
    shot = snapshot(replayed)
    assert shot["items"] == clean[0]["items"]
    replies = {("UCuserCarol0000000000003", 1559635200), ("UCuserDave00000000000004", 1559727000)}
    assert shot["interactions"] == [c for c in clean[0]["interactions"] if (c[0], c[2]) not in replies]
    assert any("thread UgxThreadA1: replies not in the file" in str(r) for r in report.rejections.kept)


def test_retries_honour_retry_after_and_are_bounded(api, tmp_path):
    store = open_store(tmp_path / "s.sqlite")
    backend = json.dumps(fixture("error_backend.json")).encode()
    api.add_faults("/youtube/v3/search", [("status", 503, JSON, backend), ("status", 429, {"Retry-After": "7"})])
    sleeps: list[float] = []
    report = run(store, api, tmp_path / "data", YouTubeRequest("search", "trailer 1999"), sleeps=sleeps)
    assert not report.stopped and report.stored["items"] == 4
    assert len(sleeps) == 2 and sleeps[1] == 7

    api.add_faults("/youtube/v3/videos", [("status", 500, JSON, backend)] * 3)
    with pytest.raises(DownloadError) as failed:
        run(store, api, tmp_path / "data", YouTubeRequest("videos", (V1, V2)), max_attempts=3)
    assert "after 3 attempts" in str(failed.value) and "resumes" in str(failed.value)
    chain, error = [], failed.value
    while error is not None:
        chain.append(repr(error))
        error = error.__cause__ or error.__context__
    assert SECRET not in " ".join(chain)


def test_missing_or_refused_key(api, tmp_path, monkeypatch):
    store = open_store(tmp_path / "s.sqlite")
    monkeypatch.delenv("YOUTUBE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="YOUTUBE_API_KEY.*--credentials"):
        collect_youtube(store, SEARCH, data_dir=tmp_path / "data", base_url=api.url)
    invalid = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
                         "errors": [{"message": "API key not valid. Please pass a valid API key.",
                                     "domain": "global", "reason": "badRequest"}],
                         "status": "INVALID_ARGUMENT",
                         "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                      "reason": "API_KEY_INVALID"}]}}
    api.add_faults("/youtube/v3/search", [("status", 400, JSON, json.dumps(invalid).encode())])
    with pytest.raises(ConfigError) as refused:
        run(store, api, tmp_path / "data")
    assert "refused the API key" in str(refused.value) and SECRET not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__context__ is None  # no HttpError (with its URL) inside


def test_the_key_appears_nowhere(api, tmp_path, caplog):
    store_file = tmp_path / "s.sqlite"
    store = open_store(store_file)
    data = tmp_path / "data"
    api.add_faults("/youtube/v3/videos", [("status", 503, JSON, json.dumps(fixture("error_backend.json")).encode())])
    with caplog.at_level(logging.DEBUG):
        report = run(store, api, data)
    assert SECRET in api.requests[0].query  # it was sent, as the API wants it
    assert not report.stopped
    texts = {"log": caplog.text, "report": json.dumps(report.as_dict())}
    for path in [*data.rglob("*"), *tmp_path.glob("s.sqlite*")]:
        if path.is_file():
            texts[str(path)] = path.read_bytes().decode("latin-1")
    assert "URL being requested" in caplog.text  # the library did log its request URLs…
    leaks = [where for where, text in texts.items() if SECRET in text]
    assert leaks == []  # …but nowhere is the key written


def test_media_is_planned_for_align_assets_and_not_fetched(api, tmp_path):
    one = fixture("videos_batch1.json")
    api.add_json("/youtube/v3/videos", {**one, "items": one["items"][:1]}, query={"id": V1})
    store = open_store(tmp_path / "s.sqlite")
    report = run(store, api, tmp_path / "data", YouTubeRequest("videos", (V1,)), media=["video", "audio"])
    thumbnail = max(one["items"][0]["snippet"]["thumbnails"].values(), key=lambda t: t.get("width", 0))["url"]
    assert snapshot(store)["assets"] == sorted([(V1, "audio", f"youtube:{V1}", "pending"),
                                                (V1, "image", thumbnail, "pending"),
                                                (V1, "video", f"youtube:{V1}", "pending")])
    assert report.written["assets"] == 3
    assert not any(r.path == "/watch" for r in api.requests)  # fetching is `align assets`' (or the CLI's)
    assert not (tmp_path / "data" / "assets").exists()
    with pytest.raises(UsageError, match="unknown media"):
        run(store, api, tmp_path / "data", YouTubeRequest("videos", (V1,)), media=["poster"])


def test_a_raw_file_in_the_format_before_the_shared_log_still_replays(api, tmp_path, clean):
    live = open_store(tmp_path / "live.sqlite")
    run(live, api, tmp_path / "data")
    saved = raw_path(tmp_path / "data", SEARCH)
    # What live runs wrote before the shared raw log: {"run": …} and {"method", "params", "status", "response"}.
    old = tmp_path / "old.jsonl"
    with old.open("w", encoding="utf-8") as out:
        for line in saved.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["kind"] == "run":
                record = {"run": entry["spec"], "started_at": entry["started_at"]}
            else:
                answer = "response" if entry["status"] == 200 else "error"
                record = {"method": entry["path"], "params": entry["params"], "status": entry["status"],
                          answer: entry["body"]}
            out.write(json.dumps(record) + "\n")
    assert not any("kind" in json.loads(line) for line in old.read_text(encoding="utf-8").splitlines())

    replayed = open_store(tmp_path / "replayed.sqlite")
    report = collect_youtube(replayed, request_from_file(old), data_dir=tmp_path / "other", load=old)
    assert not report.stopped
    assert any("commentsDisabled" in str(r) for r in report.rejections.kept)  # the saved 403 replays as one
    assert snapshot(replayed) == snapshot(live) == clean[0]
