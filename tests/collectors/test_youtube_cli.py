"""``timgen-data collect youtube`` through click's CliRunner, against the loopback API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.http_server import LoopbackServer

from timgen_data.cli import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "youtube"
SECRET = "AIzaTIMGEN-cli-secret-9876543210"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def api():
    with LoopbackServer() as server:
        for route in fixture("routes.json"):
            server.add_json(route["path"], fixture(route["file"]), query=route["query"],
                            status=route.get("status", 200))
        yield server


def invoke(data_dir: Path, *args: str, key: str | None = SECRET):
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), "collect", "youtube", *args],
                              env={"YOUTUBE_API_KEY": key, "TIMGEN_DB": None})


def test_live_run_then_load_gives_the_same_store(api, tmp_path):
    live = invoke(tmp_path / "live", "--search", "trailer 1999", "--comments", "--base-url", api.url, "--json")
    assert live.exit_code == 0, live.output
    report = json.loads(live.stdout)
    assert report["stopped"] is False and report["collector"] == "youtube" and report["variant"] == "search"
    assert report["stored"]["items"] == 4 and report["stored"]["interactions"] == 7
    assert report["quota"]["used"] == 210 and report["skipped"]["comments_skipped"] == 1
    assert any("commentsDisabled" in r for r in report["rejections"])
    saved = Path(report["raw_file"])
    assert saved.is_relative_to(tmp_path / "live" / "raw" / "youtube")

    replay = invoke(tmp_path / "replay", "--load", str(saved), "--json", key=None)  # no key needed
    assert replay.exit_code == 0, replay.output
    replayed = json.loads(replay.stdout)
    assert replayed["stored"] == report["stored"] and replayed["archive"] == str(saved)

    stats = [json.loads(CliRunner().invoke(cli, ["--data-dir", str(tmp_path / d), "stats", "--json"],
                                           env={"TIMGEN_DB": None}).stdout)
             for d in ("live", "replay")]
    assert stats[0]["tables"] == stats[1]["tables"] and stats[0]["interactions"] == stats[1]["interactions"]
    assert SECRET not in live.output + replay.output


def test_quota_stop_says_when_to_resume(api, tmp_path):
    result = invoke(tmp_path, "--search", "trailer 1999", "--daily-quota", "150", "--base-url", api.url)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # rich wraps long lines
    assert "midnight Pacific Time" in text and "re-run the same command" in text and "resumes" in text
    assert "102 of 150 units used" in text
    assert SECRET not in result.output


def test_key_from_a_credentials_file_or_a_clear_error(api, tmp_path):
    missing = invoke(tmp_path, "--videos", "tmgVideo001,tmgVideo002", "--base-url", api.url, key=None)
    assert missing.exit_code == 2 and "Traceback" not in missing.output
    assert "YOUTUBE_API_KEY" in missing.output and "--credentials" in missing.output and "ConfigError" in missing.output

    credentials = tmp_path / "youtube.json"
    credentials.write_text(json.dumps({"api_key": SECRET}))
    ok = invoke(tmp_path, "--videos", "tmgVideo001,tmgVideo002", "--credentials", str(credentials),
                "--base-url", api.url, "--json", key=None)
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["stored"]["items"] == 2
    assert any(SECRET in r.query for r in api.requests) and SECRET not in ok.output


def test_exactly_one_thing_to_collect(tmp_path):
    both = invoke(tmp_path, "--videos", "tmgVideo001", "--search", "x")
    assert both.exit_code == 2 and "only one of" in both.output
    none = invoke(tmp_path)
    assert none.exit_code == 2 and "--load FILE" in none.output
    bad = invoke(tmp_path, "--videos", "not-an-id")
    assert bad.exit_code == 2 and "11-character ids" in bad.output


def test_media_is_planned_and_fetched_right_away(api, tmp_path):
    pytest.importorskip("cv2")
    from support.media import write_mp4

    from timgen_data.store import Store, fetch_rows

    clip = write_mp4(tmp_path / "clip.mp4")
    api.add_file("/watch?v=tmgVideo001", clip, content_type="video/mp4")  # youtube:<id> lands here
    api.add_file("/watch?v=tmgVideo002", b"<html>no video here</html>", content_type="text/html")
    args = ("--videos", "tmgVideo001,tmgVideo002", "--media", "video", "--base-url", api.url,
            "--media-base-url", api.url)
    result = invoke(tmp_path, *args, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    media = report["media"]
    assert (media["planned"], media["fetched"], media["failed"], media["skipped"]) == (0, 1, 1, 0)
    assert [f["uri"] for f in media["failures"]] == ["youtube:tmgVideo002"]
    assert report["written"]["assets"] == 4  # two thumbnails, two videos: the collect planned them all

    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    with store.begin() as conn:
        assets = dict(((i, m), s) for i, m, s in fetch_rows(
            conn, "SELECT i.external_id, a.modality, a.status FROM assets a JOIN items i ON i.id = a.item_id"))
        stored, counts = fetch_rows(conn, "SELECT local_path, (SELECT counts FROM sources) FROM assets "
                                          "WHERE status = 'ok'")[0]
    assert assets == {("tmgVideo001", "image"): "pending", ("tmgVideo001", "video"): "ok",
                      ("tmgVideo002", "image"): "pending", ("tmgVideo002", "video"): "failed"}
    assert (tmp_path / "assets" / stored).read_bytes() == clip
    # The source's recorded counts are the collect's: a media failure is the asset's, not a rejected record.
    assert json.loads(counts) == {**report["stored"], "rejected": report["rejected"]} and report["rejected"] == 0

    def watched():
        return sum(r.path == "/watch" for r in api.requests)

    first = watched()
    again = invoke(tmp_path, *args)  # the text report; nothing is fetched twice
    assert again.exit_code == 0, again.output
    text = " ".join(again.stdout.split())
    # Both are done: the fetched one, and the failed one, which is not tried again without `align assets --retry-failed`.
    assert "fetched │ 0" in text and "failed │ 0" in text and "done in an earlier run │ 2" in text
    assert first > 0 and watched() == first
