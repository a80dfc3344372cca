"""Batched Arrow reads: the same rows, types and nulls as a plain fetch, in bounded batches."""

from __future__ import annotations

import pyarrow as pa
import pytest

from timgen_data.store import fetch_rows
from timgen_data.store.batches import read_batches

SCHEMA = pa.schema([("user_id", pa.int64()), ("ts", pa.int64()), ("value", pa.float64()), ("device", pa.string()),
                    ("score", pa.float32())])


def fill(store, rows: int) -> None:
    with store.begin() as conn:
        conn.exec_driver_sql("INSERT INTO users (source, external_id, attributes) VALUES ('s', '1', '{}'), ('s', '2', '{}')")
        conn.exec_driver_sql("INSERT INTO items (source, external_id, categories, attributes) VALUES ('s', 'i', '[]', '{}')")
        [(first_user,)] = fetch_rows(conn, "SELECT MIN(id) FROM users")
        [(item,)] = fetch_rows(conn, "SELECT id FROM items")
        # The first values of value and device are NULL: a driver inferring types from them must not trip.
        for k in range(rows):
            conn.exec_driver_sql(
                "INSERT INTO interactions (user_id, item_id, ts, action, value, device) VALUES "
                f"({first_user + k % 2}, {item}, {k}, 'rate', {'NULL' if k < rows // 2 else k / 4}, "
                f"{'NULL' if k < rows * 3 // 4 else repr('tv')})")


QUERY = ("SELECT user_id, ts, value, device, value AS score FROM interactions "
         "WHERE user_id = :user ORDER BY ts")


def test_batches_hold_every_row_with_its_type_and_nulls(store):
    fill(store, 3000)
    with store.begin() as conn:
        [(user,)] = fetch_rows(conn, "SELECT MAX(id) FROM users")
        expected = fetch_rows(conn, QUERY.replace(":user", str(user)))
    batches = list(read_batches(store, QUERY, {"user": user}, SCHEMA, batch_rows=400))
    assert all(b.schema == SCHEMA for b in batches)
    assert max(b.num_rows for b in batches) == 400 and len(batches) == 4  # 1,500 rows in batches of at most 400
    rows = pa.Table.from_batches(batches).to_pylist()
    assert [(r["user_id"], r["ts"], r["value"], r["device"]) for r in rows] == [tuple(e[:4]) for e in expected]
    assert sum(r["value"] is None for r in rows) == 750 and sum(r["device"] is None for r in rows) == 1125


def test_an_empty_result_is_no_batch_or_empty_batches(store):
    fill(store, 10)
    batches = list(read_batches(store, QUERY, {"user": -1}, SCHEMA))
    assert sum(b.num_rows for b in batches) == 0


def test_batch_rows_must_be_positive(sqlite_store):
    with pytest.raises(ValueError):
        list(read_batches(sqlite_store, QUERY, {"user": 1}, SCHEMA, batch_rows=0))
