"""Batched Arrow reads on SQLite: the rows, types and nulls of a plain fetch in batches of the
asked size, and a store whose connections stay open loses nothing by them (the reader's own
copy of SQLite runs in a child process, where it cannot delete the write-ahead log)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from timgen_data.store import Store, fetch_rows
from timgen_data.store.batches import read_batches

SCHEMA = pa.schema([("user_id", pa.int64()), ("ts", pa.int64()), ("value", pa.float64()), ("device", pa.string()),
                    ("rated", pa.bool_())])
QUERY = ("SELECT user_id, ts, value, device, value IS NOT NULL AS rated FROM interactions "
         "WHERE user_id = :user ORDER BY ts")


def fill(store: Store, rows: int) -> int:
    """``rows`` interactions of one user (whose id it returns), the first values NULL."""
    with store.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (source, external_id, attributes) VALUES ('s', '1', '{}')")
        conn.exec_driver_sql(
            "INSERT INTO items (source, external_id, categories, attributes) VALUES ('s', 'i', '[]', '{}')")
        [(user,)] = fetch_rows(conn, "SELECT id FROM users")
        [(item,)] = fetch_rows(conn, "SELECT id FROM items")
        for k in range(rows):
            conn.exec_driver_sql(
                "INSERT INTO interactions (user_id, item_id, ts, action, value, device) VALUES "
                f"({user}, {item}, {k}, 'rate', {'NULL' if k < rows // 2 else k / 4}, "
                f"{'NULL' if k < rows * 3 // 4 else repr('tv')})")
    return user


def test_batches_hold_every_row_with_its_type_and_nulls(sqlite_store):
    user = fill(sqlite_store, 50_000)
    with sqlite_store.begin() as conn:
        expected = fetch_rows(conn, QUERY, {"user": user})
    batches = list(read_batches(sqlite_store, QUERY, {"user": user}, SCHEMA, batch_rows=20_000))
    assert [b.num_rows for b in batches] == [20_000, 20_000, 10_000] and all(b.schema == SCHEMA for b in batches)
    rows = pa.Table.from_batches(batches).to_pylist()
    assert [tuple(r.values()) for r in rows] == [(*e[:4], bool(e[4])) for e in expected]
    assert sum(r["value"] is None for r in rows) == 25_000 and sum(r["device"] is None for r in rows) == 37_500
    assert list(read_batches(sqlite_store, QUERY, {"user": -1}, SCHEMA, batch_rows=10)) == []
    with pytest.raises(ValueError):
        list(read_batches(sqlite_store, QUERY, {"user": user}, SCHEMA, batch_rows=0))


def _commit_after_a_read_survives(tmp_path, read) -> None:
    """Read while the store's connection is open and has written, then write again: the second
    write must reach the file (it is lost when the reader deletes the write-ahead log)."""
    path = tmp_path / "store.sqlite"
    store = Store.open(f"sqlite:///{path}")
    user = fill(store, 10)
    schema = pa.schema([("ts", pa.int64())])
    assert sum(b.num_rows for b in read(store, "SELECT ts FROM interactions WHERE user_id = :user", {"user": user},
                                        schema)) == 10
    with store.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (source, external_id, attributes) VALUES ('s', 'after', '{}')")
    other = Store.open(f"sqlite:///{path}")  # another connection, as another command would open
    try:
        with other.begin() as conn:
            assert fetch_rows(conn, "SELECT COUNT(*) FROM users WHERE external_id = 'after'") == [(1,)]
    finally:
        other.dispose()
        store.dispose()


def test_a_commit_after_a_read_survives(tmp_path):
    _commit_after_a_read_survives(
        tmp_path, lambda store, sql, params, schema: read_batches(store, sql, params, schema, batch_rows=4))
