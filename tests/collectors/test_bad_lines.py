"""One unusable line costs that line only: a line nested 100,000 deep, bytes that are not
UTF-8, a number past the interpreter's digit limit or a wrong type, in an Amazon reviews
file, an event log and the raw files ``--load`` replays (X, YouTube, IMDb). Each collect
ends with exit 0, the line rejected with its number and every other line stored."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.http_server import LoopbackServer
from support.real_files import real_path
from support.x_api import QUERY, FakeXApi, script_search
from support.x_api import snapshot as x_snapshot

from timgen_data.collectors.imdb.raw import PageWriter, page_record, read_pages
from timgen_data.collectors.json_lines import UnreadableLine, decode_json_line, read_json_lines
from timgen_data.collectors.report import Rejections
from timgen_data.collectors.youtube.raw import RawLog, ReplayApi
from timgen_data.store import Store, fetch_rows

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "fixtures"
DEEP = "[" * 100_000 + "]" * 100_000  # json.loads raises RecursionError on it
NO_DB = {"TIMGEN_DB": None}


def open_store(data_dir: Path) -> Store:
    return Store.open(f"sqlite:///{data_dir / 'store.sqlite'}")


def table_counts(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        return {t: fetch_rows(conn, f"SELECT COUNT(*) FROM {t}")[0][0]
                for t in ("users", "items", "interactions", "assets", "sources")}


def insert_lines(path: Path, at: int, lines: list[bytes]) -> None:
    """Put ``lines`` in ``path`` so the first of them becomes line ``at``."""
    kept = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(kept[:at - 1] + [line + b"\n" for line in lines] + kept[at - 1:]))


# --- the one decoder every reader uses ----------------------------------------------------------

@pytest.mark.parametrize("line, python_literals, reason", [
    (DEEP, False, "nested deeper than 100 levels"),
    ('{"a": ' * 500 + "1" + "}" * 500, False, "nested deeper than 100 levels"),  # parses; too deep to keep
    (b'{"user": "caf\xe9"}', False, "not UTF-8 text (byte 0xe9 at column 14)"),
    ('{"n": ' + "9" * 5000 + "}", False, "not JSON: Exceeds the limit (4300 digits)"),
    ('{"a": 1', False, "not JSON: Expecting ',' delimiter"),
    ("[1, 2]", False, "a JSON array, not an object"),
    ("{'asin': 'B1'}", False, "not JSON"),
    ("{'asin': {1, 2}}", True, "neither JSON nor a Python literal"),  # a set: nothing can store it
    ("{[1]: 2}", True, "neither JSON nor a Python literal"),  # TypeError inside literal_eval
    ("-" * 100_000 + "1", True, "neither JSON nor a Python literal"),  # MemoryError inside the parser
])
def test_every_kind_of_bad_line_is_one_reason(line, python_literals, reason):
    with pytest.raises(UnreadableLine) as caught:
        decode_json_line(line, python_literals=python_literals)
    assert str(caught.value).startswith(reason)
    assert isinstance(caught.value, ValueError)
    assert decode_json_line("{'asin': 'B1', 'rank': (1, 2)}", python_literals=True) == {"asin": "B1", "rank": [1, 2]}


def test_an_over_long_line_is_passed_over_without_being_held():
    stream = io.BytesIO(b'{"a": 1}\n' + b"x" * 500 + b'\n{"b": 2}\n\n[3]')
    lines = [(line.number, line.value, line.error) for line in read_json_lines(stream, max_bytes=64)]
    assert lines == [(1, {"a": 1}, None), (2, None, "longer than 64 bytes"), (3, {"b": 2}, None),
                     (5, None, "a JSON array, not an object")]


# --- data files: the line is rejected with its number, the rest stored -------------------------------

def test_amazon_reviews_with_a_deep_line_and_bad_values_store_every_other_line(tmp_path):
    real = real_path("amazon", "2018", "Video_Games.json", what="real Amazon lines")
    reviews = tmp_path / "Video_Games.json"
    reviews.write_bytes(real.read_bytes())
    bad = {
        4: DEEP.encode(),
        6: json.dumps({"reviewerID": ["A1"], "asin": "X1", "unixReviewTime": 1445040000}).encode(),
        8: json.dumps({"reviewerID": "A\u0000", "asin": "X1", "unixReviewTime": 1445040000}).encode(),
        10: b'{"reviewerID": "A2", "asin": "X1", "unixReviewTime": ' + b"9" * 5000 + b"}",
        12: b'{"reviewerID": "A3", "asin": "X\xff", "unixReviewTime": 1445040000}',
        14: b'{"reviewerID": "A4", "asin": "X1", "unixReviewTime": 1e999}',
    }
    for number in sorted(bad):
        insert_lines(reviews, number, [bad[number]])
    # A rating past what a float holds is no rating (as a non-numeric one is): the review is kept.
    huge_rating = b'{"reviewerID": "A5", "asin": "X1", "unixReviewTime": 1445040000, "overall": ' + b"9" * 400 + b"}"
    reviews.write_bytes(reviews.read_bytes() + huge_rating + b"\n")

    result = invoke_cli("collect", "amazon", "--release", "2018", "--category", "Video_Games",
                        "--from-file", reviews, "--json", data_dir=tmp_path / "data", env=NO_DB)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    rejected = {int(r.split(":")[1]): r.split(":", 2)[2] for r in report["rejections"]}
    assert sorted(rejected) == sorted(bad)
    assert "nested deeper than 100 levels" in rejected[4]
    assert "the user id is list" in rejected[6] and "NUL character" in rejected[8]
    assert "not JSON: Exceeds the limit" in rejected[10] and "not UTF-8 text" in rejected[12]
    assert "not a plausible epoch" in rejected[14]
    # The 12 real reviews (10 verified: a comment and a purchase each) and the huge-rating one.
    store = open_store(tmp_path / "data")
    assert table_counts(store) == {"users": 13, "items": 3, "interactions": 12 + 10 + 1, "assets": 0, "sources": 1}
    assert report["stored"]["interactions"] == 23 and report["read"]["reviews"] == 13 + len(bad)
    with store.begin() as conn:
        assert fetch_rows(conn, "SELECT value FROM interactions x JOIN users u ON u.id = x.user_id "
                                "WHERE u.external_id = 'A5'") == [(None,)]
        assert fetch_rows(conn, "SELECT status, counts FROM sources")[0][0] == "complete"
    store.dispose()


LOG_MAPPING = '[columns]\nuser = "u"\nitem = "i"\ntime = "t"\naction = "e"\n'


def event_log(path: Path) -> Path:
    good = [json.dumps({"u": f"u{k}", "i": f"i{k}", "t": 1767225600 + k, "e": "click"}).encode() for k in range(5)]
    path.write_bytes(b"\n".join([good[0], good[1], DEEP.encode(), good[2], b'{"u": "u\xff", "i": "i9"}',
                                 b'{"u": "u8", "t": ' + b"7" * 5000 + b"}", good[3], good[4]]) + b"\n")
    return path


def test_an_event_log_with_bad_json_lines_stores_the_rest_when_skipping(tmp_path):
    log = event_log(tmp_path / "clicks.jsonl")
    (tmp_path / "skip.toml").write_text('on_error = "skip"\n' + LOG_MAPPING, encoding="utf-8")

    result = invoke_cli("collect", "events", "--path", log, "--mapping", tmp_path / "skip.toml", "--json",
                        data_dir=tmp_path / "data", env=NO_DB)

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [r.split(":")[1] for r in report["rejections"]] == ["3", "5", "6"]
    assert "is nested deeper than 100 levels" in report["rejections"][0]
    assert "is not UTF-8 text" in report["rejections"][1] and "is not JSON" in report["rejections"][2]
    assert table_counts(open_store(tmp_path / "data"))["interactions"] == 5


def test_an_event_log_with_a_deep_line_stops_in_one_line_when_told_to_stop(tmp_path):
    log = event_log(tmp_path / "clicks.jsonl")
    (tmp_path / "stop.toml").write_text(LOG_MAPPING, encoding="utf-8")

    result = invoke_cli("collect", "events", "--path", log, "--mapping", tmp_path / "stop.toml",
                        data_dir=tmp_path / "data", env=NO_DB)

    assert_fails_in_one_line(result, 3, "EventValueError", "clicks.jsonl line 3 is nested deeper than 100 levels",
                             'on_error = "skip"')
    assert table_counts(open_store(tmp_path / "data")) == {"users": 0, "items": 0, "interactions": 0, "assets": 0,
                                                           "sources": 0}


# --- raw replays: a bad line is passed over and reported, the replay goes on --------------------------

def test_an_x_replay_passes_over_a_deep_line(tmp_path):
    live = tmp_path / "live"
    with FakeXApi() as api:
        script_search(api)
        assert invoke_cli("collect", "twitter", "--query", QUERY, "--base-url", api.url, data_dir=live,
                          env={"X_BEARER_TOKEN": "token", **NO_DB}).returncode == 0
    raw = next((live / "raw" / "twitter").glob("search-*.jsonl"))
    insert_lines(raw, 3, [DEEP.encode(), b'{"kind": "response", "path": "/2/x", "status": 1e999}'])

    result = invoke_cli("collect", "twitter", "--load", raw, "--json", data_dir=tmp_path / "replay",
                        env={"X_BEARER_TOKEN": "", **NO_DB})

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert f"{raw.name}:3: nested deeper than 100 levels" in report["rejections"]
    assert f"{raw.name}:4: a response line without a path or with a non-numeric status" in report["rejections"]
    stores = [open_store(folder) for folder in (live, tmp_path / "replay")]
    assert x_snapshot(stores[1]) == x_snapshot(stores[0])
    for store in stores:
        store.dispose()


@pytest.fixture
def youtube_api():
    def fixture(name: str):
        return json.loads((FIXTURES / "youtube" / name).read_text(encoding="utf-8"))

    with LoopbackServer() as server:
        for route in fixture("routes.json"):
            server.add_json(route["path"], fixture(route["file"]), query=route["query"],
                            status=route.get("status", 200))
        yield server


def test_a_youtube_replay_passes_over_a_deep_line_and_bad_bytes(youtube_api, tmp_path):
    live = invoke_cli("collect", "youtube", "--search", "trailer 1999", "--comments", "--base-url", youtube_api.url,
                      "--json", data_dir=tmp_path / "live", env={"YOUTUBE_API_KEY": "AIzaKEY", **NO_DB})
    assert live.returncode == 0, live.stdout + live.stderr
    saved = Path(json.loads(live.stdout)["raw_file"])
    insert_lines(saved, 3, [DEEP.encode(), b'{"method": "videos.list", "params": {"id": "\xff"}}',
                            b'{"method": "videos.list", "params": {}, "status": "ok"}'])

    replay = invoke_cli("collect", "youtube", "--load", saved, "--json", data_dir=tmp_path / "replay",
                        env={"YOUTUBE_API_KEY": "", **NO_DB})

    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert json.loads(replay.stdout)["stored"] == json.loads(live.stdout)["stored"]
    assert table_counts(open_store(tmp_path / "replay")) == table_counts(open_store(tmp_path / "live"))
    rejected = ReplayApi(saved).rejections
    assert [(r.line, r.reason) for r in rejected.kept] == [
        (3, "nested deeper than 100 levels"), (4, "not UTF-8 text (byte 0xff at column 45)"),
        (5, "a response line without a path or with a non-numeric status")]
    assert f"{saved.name}:3: nested deeper than 100 levels" in json.loads(replay.stdout)["rejections"]


def test_a_youtube_raw_file_a_killed_run_cut_mid_line_keeps_the_next_answer_whole(tmp_path):
    raw = tmp_path / "search.jsonl"
    raw.write_text('{"run": {"mode": "search"}, "started_at": 1}\n{"method": "search.list", "para', encoding="utf-8")
    origin = RawLog(raw).response("videos.list", {"id": "v1"}, {"items": []})
    replay = ReplayApi(raw)
    assert origin.line == 3 and replay.origin("videos.list", {"id": "v1"}).line == 3
    assert replay.call("videos.list", {"id": "v1"}) == {"items": []}
    assert [r.line for r in replay.rejections.kept] == [2]


def imdb_page(url: str, name: str, content_type: str) -> bytes:
    body = (FIXTURES / "imdb" / name).read_bytes()
    return json.dumps(page_record(url, 200, content_type, body, "utf-8")).encode()


def test_an_imdb_replay_passes_over_a_deep_line_and_a_cut_last_line(tmp_path):
    base = "http://127.0.0.1:9/imdb"
    raw = tmp_path / "crawl.jsonl"
    raw.write_bytes(b"\n".join([
        imdb_page(f"{base}/robots.txt", "robots.txt", "text/plain"),
        imdb_page(f"{base}/title/tt0133093/", "title-tt0133093.html", "text/html; charset=utf-8"),
        DEEP.encode(),
        b'{"url": "http://127.0.0.1:9/imdb/title/tt0000001/", "status": "200"}',
        imdb_page(f"{base}/title/tt0114709/", "title-tt0114709.html", "text/html; charset=utf-8"),
        b'{"url": "http://127.0.0.1:9/imdb/title/tt01',  # the line a killed crawl was writing
    ]))

    result = invoke_cli("collect", "imdb", "--load", raw, "--json", data_dir=tmp_path / "data", env=NO_DB)

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["stored"]["titles_done"] == 2
    assert "crawl.jsonl:3: nested deeper than 100 levels" in json.loads(result.stdout)["rejections"]
    with open_store(tmp_path / "data").begin() as conn:
        assert sorted(fetch_rows(conn, "SELECT external_id FROM items")) == [("tt0114709",), ("tt0133093",)]
    rejections = Rejections()
    read_pages(raw, rejections)
    assert [(r.line, r.reason.split(" (")[0]) for r in rejections.kept] == [
        (3, "nested deeper than 100 levels"), (4, "not a saved page"), (6, "not JSON: Unterminated string starting at")]


def test_an_imdb_raw_file_a_killed_crawl_cut_mid_line_keeps_the_next_page_whole(tmp_path):
    raw = tmp_path / "crawl.jsonl"
    raw.write_bytes(imdb_page("http://h/robots.txt", "robots.txt", "text/plain") + b'\n{"url": "http://h/ti')
    writer = PageWriter(raw)
    writer.write(page_record("http://h/title/tt0133093/", 200, "text/html", b"<html></html>", "utf-8"))
    writer.close()
    rejections = Rejections()
    pages = read_pages(raw, rejections)
    assert [p["url"] for p in pages] == ["http://h/robots.txt", "http://h/title/tt0133093/"]
    assert [r.line for r in rejections.kept] == [2]
