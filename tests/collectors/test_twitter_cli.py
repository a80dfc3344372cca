"""``timgen-data collect twitter`` through click: reports, errors and exit codes, --load, and the token
never written to the store, the raw files or the output."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner
from support.x_api import QUERY, SEARCH, FakeXApi, script_search, snapshot

from timgen_data.cli import cli
from timgen_data.store import Store

SECRET = "AAAAsecret-X-token-9b8c7d6e5f"


def invoke(data_dir, *args, token=SECRET):
    env = {"X_BEARER_TOKEN": token} if token else {"X_BEARER_TOKEN": ""}
    return CliRunner().invoke(cli, ["--data-dir", str(data_dir), "collect", "twitter", *args], env=env)


def test_collect_prints_a_json_report_and_the_token_goes_nowhere(tmp_path):
    data = tmp_path / "data"
    with FakeXApi() as api:
        script_search(api)
        result = invoke(data, "--query", QUERY, "--engagement", "--base-url", api.url, "--json")
        assert api.requests[0].headers["authorization"] == f"Bearer {SECRET}"
        api.reply(SEARCH, {"title": "Unauthorized", "detail": "Unauthorized"}, status=401, before=True)
        refused = invoke(data, "--query", "#other", "--base-url", api.url)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["collector"] == "twitter" and report["namespace"] == "twitter" and report["variant"] == "search"
    assert report["stored"] == {"users": 5, "items": 6, "interactions": 9, "assets": 5}
    assert report["rejected"] == 1 and "author 2404 unavailable" in report["rejections"][0]
    assert any("first collected" in note for note in report["notes"])
    assert refused.exit_code == 2 and "X_BEARER_TOKEN" in refused.output and "ConfigError" in refused.output
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in files) and any(p.name.startswith("store.sqlite") for p in files)
    for path in files:  # the store (with its WAL), the raw responses, anything else written
        assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in result.output and SECRET not in refused.output


def test_load_replays_a_raw_file_into_the_same_store(tmp_path):
    live = tmp_path / "live"
    with FakeXApi() as api:
        script_search(api)
        assert invoke(live, "--query", QUERY, "--base-url", api.url).exit_code == 0
    raw = next((live / "raw" / "twitter").glob("search-*.jsonl"))
    result = invoke(tmp_path / "replay", "--load", str(raw), "--json", token=None)  # no token needed
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["archive"] == str(raw)
    stores = [Store.open(f"sqlite:///{folder / 'store.sqlite'}") for folder in (live, tmp_path / "replay")]
    assert snapshot(stores[0]) == snapshot(stores[1])
    for store in stores:
        store.dispose()


def test_usage_errors_exit_2_and_say_what_to_do(tmp_path):
    missing = invoke(tmp_path / "d", "--query", QUERY, token=None)
    assert missing.exit_code == 2 and "X_BEARER_TOKEN" in missing.output
    neither = invoke(tmp_path / "d")
    assert neither.exit_code == 2 and "--query" in neither.output and "--users" in neither.output
    bad_time = invoke(tmp_path / "d", "--query", QUERY, "--since", "the other day")
    assert bad_time.exit_code == 2 and "--since" in bad_time.output
    no_file = invoke(tmp_path / "d", "--load", str(tmp_path / "nothing.jsonl"))
    assert no_file.exit_code == 2 and "--load" in no_file.output


def test_a_long_rate_limit_stops_with_exit_3_the_report_and_when_to_resume(tmp_path):
    reset = int(time.time()) + 3600
    with FakeXApi() as api:
        script_search(api)
        api.reply(SEARCH, {"title": "Too Many Requests"}, params={"next_token": "tok-2"}, status=429,
                  headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}, before=True)
        result = invoke(tmp_path / "d", "--query", QUERY, "--base-url", api.url, "--max-wait", "60", "--json")
    assert result.exit_code == 3 and "RateLimitError" in result.output and "re-run after" in result.output
    assert json.loads(result.stdout)["stored"]["items"] == 3  # page 1 is kept
