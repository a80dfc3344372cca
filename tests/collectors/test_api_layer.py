"""The shared API layer: credentials in every shape a source ever accepted, the raw log and its
replay (gaps are typed errors), and cursors by key."""

from __future__ import annotations

import json

import pytest

from timgen_data.collectors.api import (
    Cursors,
    RawLog,
    RawResponse,
    ReplayGap,
    ReplayLog,
    Secret,
    read_log,
    redact,
    resolve_secret,
)
from timgen_data.errors import ConfigError, UsageError
from timgen_data.store import Store

DEMO = Secret("DEMO_TOKEN", ("token", "api_key"), "the demo token")


@pytest.mark.parametrize("text", [
    "s3cret\n",  # the secret alone (both earlier resolvers)
    "s3cret\nsecond line\n",  # YouTube's resolver read the first line of any file
    "# comment\nexport DEMO_TOKEN='s3cret'\n",  # dotenv style (X's resolver)
    "OTHER=1\nDEMO_TOKEN=s3cret\n",
    '{"token": "s3cret"}', '{"api_key": " s3cret "}', '{"DEMO_TOKEN": "s3cret"}',  # JSON, either key
])
def test_a_credentials_file_in_any_earlier_shape_gives_the_secret(tmp_path, text):
    path = tmp_path / "creds"
    path.write_text(text, encoding="utf-8")
    assert resolve_secret(DEMO, path, environ={"DEMO_TOKEN": "from-env"}) == "s3cret"


def test_the_environment_is_read_without_a_file_and_errors_never_echo_the_file(tmp_path):
    assert resolve_secret(DEMO, environ={"DEMO_TOKEN": " e "}) == "e"
    with pytest.raises(ConfigError, match="DEMO_TOKEN.*--credentials"):
        resolve_secret(DEMO, environ={})
    path = tmp_path / "creds"
    for text in ('{"other": "hidden-value"}', "OTHER=hidden-value", "{not json hidden-value"):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            resolve_secret(DEMO, path)
        assert "hidden-value" not in str(caught.value)
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_secret(DEMO, tmp_path / "missing")
    assert redact("token abc and abc", "abc", None) == "token REDACTED and REDACTED"


def test_the_log_is_appended_redacted_and_read_back_tolerantly(tmp_path):
    path = tmp_path / "raw" / "demo.jsonl"
    path.parent.mkdir()
    path.write_text('{"kind": "run", "spec": {}}\n{"kind": "resp', encoding="utf-8")  # a killed run's half line
    log = RawLog(path, secret="KEY123")
    log.start_run({"q": "cats"}, "http://h/?key=KEY123", 5)
    answer = log.append(RawResponse("/items", {"page": 2}, 200, {}, {"data": [1]}, 7))
    assert answer.line == 4
    assert "KEY123" not in path.read_text(encoding="utf-8")
    entries = list(read_log(path))
    assert [(e.line, e.run is not None, e.response is not None) for e in entries] == [
        (1, True, False), (2, False, False), (3, True, False), (4, False, True)]
    assert entries[1].problem.startswith("not JSON")
    assert entries[3].response == RawResponse("/items", {"page": 2}, 200, {}, {"data": [1]}, 7)
    assert json.loads(path.read_text(encoding="utf-8").splitlines()[2])["url"] == "http://h/?key=REDACTED"


def test_replay_serves_the_latest_answer_and_a_gap_is_a_typed_error(tmp_path):
    path = tmp_path / "demo.jsonl"
    log = RawLog(path)
    log.append(RawResponse("videos.list", {"id": "a", "maxResults": 50}, 500, {}, {"error": "x"}, 1))
    log.append(RawResponse("videos.list", {"id": "a", "maxResults": 50}, 200, {}, {"items": ["a"]}, 2))
    with path.open("a", encoding="utf-8") as out:  # a line in YouTube's earlier format
        out.write(json.dumps({"method": "search.list", "params": {"q": "b"}, "status": 200,
                              "response": {"items": ["b"]}}) + "\n")
    replay = ReplayLog(path)
    assert replay.answer("videos.list", {"maxResults": 50, "id": "a"}).body == {"items": ["a"]}
    assert replay.answer("search.list", {"q": "b"}).body == {"items": ["b"]}
    with pytest.raises(ReplayGap, match="holds no answer to videos.list") as gap:
        replay.answer("videos.list", {"id": "zzz"})
    assert isinstance(gap.value, UsageError)  # one line and exit 2, never a traceback
    with pytest.raises(UsageError, match="is not a file"):
        ReplayLog(tmp_path / "missing.jsonl")


def test_cursors_load_save_and_advance_by_key(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}")
    cursors = Cursors("demo")
    with store.begin() as conn:
        assert cursors.load(conn, "q:cats") is None
        cursors.save(conn, "q:cats", {"page": 1})
        moved = cursors.advance(conn, "q:cats", lambda c: {"page": c["page"] + 1})
        cursors.advance(conn, "q:dogs", lambda c: {"page": 0 if c is None else -1})
    with store.begin() as conn:
        assert moved == cursors.load(conn, "q:cats") == {"page": 2}
        assert cursors.load(conn, "q:dogs") == {"page": 0}
        assert Cursors("other").load(conn, "q:cats") is None
    store.dispose()
