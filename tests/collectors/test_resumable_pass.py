"""The archive sources' resumable pass: a chunk and its position commit together, or neither does."""

from __future__ import annotations

import pytest

from timgen_data.collectors.archive import ResumablePass, obtain_file
from timgen_data.errors import UsageError
from timgen_data.store import fetch_rows, upsert_rows


def users(store) -> list[str]:
    with store.begin() as conn:
        return [r[0] for r in fetch_rows(conn, "SELECT external_id FROM users ORDER BY external_id")]


def add(name: str):
    return lambda conn: upsert_rows(conn, "users", ["source", "external_id", "attributes"], [("t", name, "{}")],
                                    conflict=["source", "external_id"])


def test_a_failed_chunk_leaves_neither_its_rows_nor_its_position(sqlite_store):
    first = ResumablePass(sqlite_store, "test", "file-a")
    assert first.position is None and first.get("rows_done", 0) == 0 and not first.complete
    assert first.commit({"rows_done": 1}, add("u1")) == 1

    def half_then_fail(conn):
        add("u2")(conn)
        raise OSError("disk gone")

    with pytest.raises(OSError):
        first.commit({"rows_done": 2}, half_then_fail)
    again = ResumablePass(sqlite_store, "test", "file-a")
    assert again.get("rows_done") == 1 and users(sqlite_store) == ["u1"]
    again.commit({"rows_done": 2, "complete": True}, add("u2"))
    assert ResumablePass(sqlite_store, "test", "file-a").complete
    assert ResumablePass(sqlite_store, "test", "file-a", force=True).position is None
    assert ResumablePass(sqlite_store, "test", "file-b").position is None  # one position per key


def test_a_given_file_that_is_missing_names_the_option(tmp_path):
    with pytest.raises(UsageError, match="to --path"):
        obtain_file("http://127.0.0.1:9/x", tmp_path / "x", local=tmp_path / "absent.gz", force=False,
                    option="--path")
    given = tmp_path / "given.gz"
    given.write_bytes(b"abc")
    found = obtain_file("http://127.0.0.1:9/x", tmp_path / "x", local=given, force=False)
    assert found.url is None and found.path == given and len(found.sha256) == 64
