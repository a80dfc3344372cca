"""Snapshots: several batched reads that see one state of the store, and never cost it a commit."""

from __future__ import annotations

import sqlite3

import pyarrow as pa
import pytest
from sqlalchemy import text

from timgen_data.errors import StoreError
from timgen_data.store.batches import read_batches, snapshot

USERS = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("attributes", pa.string())])


def add_user(store, name: str) -> None:
    with store.begin() as conn:
        conn.execute(text("INSERT INTO users (source, external_id, attributes) VALUES ('s', :n, '{}')"), {"n": name})


def count(view_or_store) -> int:
    sql = "SELECT COUNT(*) AS id, NULL AS attributes FROM users"
    if hasattr(view_or_store, "read_batches"):
        batches = list(view_or_store.read_batches(sql, None, USERS))
    else:
        batches = list(read_batches(view_or_store, sql, None, USERS))
    return pa.Table.from_batches(batches, schema=USERS).column("id")[0].as_py()


def test_every_read_of_a_snapshot_sees_the_store_as_at_its_first(store):
    add_user(store, "1")
    with snapshot(store) as view:
        assert count(view) == 1
        add_user(store, "2")  # another writer commits meanwhile
        assert count(view) == 1
        rows = pa.Table.from_batches(view.read_batches("SELECT id, attributes FROM users", None, USERS, batch_rows=1))
        assert rows.num_rows == 1 and rows.column("attributes").to_pylist() == ["{}"]
    assert count(store) == 2


def test_what_is_committed_after_a_batched_read_in_the_same_process_is_kept(sqlite_store):
    # ADBC's own copy of SQLite, closing in this process, once deleted the write-ahead log
    # under the store's connections: the next commit was lost.
    add_user(sqlite_store, "1")
    assert count(sqlite_store) == 1
    with snapshot(sqlite_store) as view:
        assert count(view) == 1
    add_user(sqlite_store, "2")
    assert count(sqlite_store) == 2
    with sqlite3.connect(sqlite_store.file) as conn:
        assert conn.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 2


def test_a_failed_query_is_one_store_error_and_the_snapshot_stops(sqlite_store):
    add_user(sqlite_store, "1")
    with snapshot(sqlite_store) as view:
        with pytest.raises(StoreError, match="no such table"):
            list(view.read_batches("SELECT id, attributes FROM nowhere", None, USERS))
        with pytest.raises(StoreError, match="has stopped"):
            count(view)
    assert count(sqlite_store) == 1


def test_a_read_stopped_early_leaves_nothing_running(sqlite_store):
    for k in range(5):
        add_user(sqlite_store, str(k))
    with snapshot(sqlite_store) as view:
        first = next(iter(view.read_batches("SELECT id, attributes FROM users", None, USERS, batch_rows=1)))
        assert first.num_rows == 1
    assert count(sqlite_store) == 5
