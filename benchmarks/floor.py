"""The floor the ingest benchmarks compare against: one raw ``sqlite3`` executemany of
interaction rows, in one transaction, into schema.sql's ``interactions`` table with the
store's own pragmas, so the ratio measures our code, not SQLite tuning."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from itertools import repeat
from pathlib import Path

from timgen_data.store import schema_statements
from timgen_data.store.engine import _tune_sqlite


def timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def insert_ratings(db_path: Path, users: Iterable[int], items: Iterable[int], ts: Iterable[int],
                   ratings: Iterable[float]) -> None:
    """``rate`` interactions straight into a fresh SQLite file."""
    rows = zip(users, items, ts, repeat("rate"), ratings, repeat(None), repeat(None), repeat(None), repeat(None),
               repeat(1))
    conn = sqlite3.connect(db_path)
    _tune_sqlite(conn, None)
    conn.execute("PRAGMA foreign_keys=OFF")  # the floor has no users/items rows to point at
    for statement in schema_statements():
        conn.execute(statement)
    with conn:
        conn.executemany(
            "INSERT INTO interactions (user_id, item_id, ts, action, value, duration, device, platform, geo, "
            "source_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows,
        )
    conn.close()
