"""Fast, idempotent bulk writes behind one interface.

Each dialect takes its driver's fast path: SQLite gets one ``executemany`` of an
``INSERT ... ON CONFLICT`` statement inside the caller's transaction; PostgreSQL gets
``COPY`` into a temporary staging table followed by one ``INSERT ... SELECT ... ON
CONFLICT``. Re-inserting the same rows therefore changes nothing.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, select

from timgen_data.store import models
from timgen_data.store.query import fetch_rows, in_clause


def to_json(value: Any) -> str:
    """Canonical JSON for JSON columns: stable key order, so re-runs write equal bytes."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def upsert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str] = (),
) -> int:
    """Insert ``rows`` into ``table``; on a ``conflict`` key either update ``update``
    columns or (when empty) keep the stored row. Returns the number of rows written.

    >>> upsert_rows(conn, "users", ["source", "external_id", "attributes"],
    ...             [("movielens-1m", "1", "{}")], conflict=["source", "external_id"])  # doctest: +SKIP
    1
    """
    if update:
        # PostgreSQL refuses to update one row twice in a statement; keep the last.
        key_positions = [list(columns).index(c) for c in conflict]
        deduped: dict[tuple, Sequence[Any]] = {}
        for row in rows:
            deduped[tuple(row[i] for i in key_positions)] = row
        rows = list(deduped.values())
    elif not isinstance(rows, list):
        rows = list(rows)
    if not rows:
        return 0
    if conn.dialect.name == "postgresql":
        return _postgres_copy_upsert(conn, table, columns, rows, conflict, update)
    return _sqlite_executemany_upsert(conn, table, columns, rows, conflict, update)


def _on_conflict(conflict: Sequence[str], update: Sequence[str]) -> str:
    target = ", ".join(conflict)
    if not update:
        return f"ON CONFLICT ({target}) DO NOTHING"
    assignments = ", ".join(f"{c} = excluded.{c}" for c in update)
    return f"ON CONFLICT ({target}) DO UPDATE SET {assignments}"


def _sqlite_executemany_upsert(conn, table, columns, rows, conflict, update) -> int:
    placeholders = ", ".join("?" for _ in columns)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders}) "
        f"{_on_conflict(conflict, update)}"
    )
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, rows)
        return max(cursor.rowcount, 0)
    finally:
        cursor.close()


def _postgres_copy_upsert(conn, table, columns, rows, conflict, update) -> int:
    column_list = ", ".join(columns)
    stage = f"_stage_{table}"
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {stage}")
        cursor.execute(
            f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {column_list} FROM {table} WITH NO DATA"
        )
        # The ordinal keeps input order, so identities are assigned in the order given.
        cursor.execute(f"ALTER TABLE {stage} ADD COLUMN _ord BIGSERIAL")
        with cursor.copy(f"COPY {stage} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM {stage} "
            f"ORDER BY _ord {_on_conflict(conflict, update)}"
        )
        written = cursor.rowcount
        cursor.execute(f"DROP TABLE {stage}")
    return max(written, 0)


def id_map(conn: Connection, table: str, source: str) -> dict[str, int]:
    """``external_id -> id`` for every row of ``users`` or ``items`` from one source."""
    tbl = models.metadata.tables[table]
    result = conn.execute(select(tbl.c.external_id, tbl.c.id).where(tbl.c.source == source))
    return {external_id: id_ for external_id, id_ in result}


# Ids per ``IN (...)`` lookup: well under every driver's parameter limit (SQLite: 32766).
IN_BATCH = 500


def ids_of(conn: Connection, table: str, source: str, external_ids: Iterable[str]) -> dict[str, int]:
    """``external_id -> id`` in ``users`` or ``items`` of one source, for these ids only (those stored).

    Unlike :func:`id_map` it reads only what a page or chunk needs, however large the source.
    """
    wanted = list(dict.fromkeys(external_ids))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), IN_BATCH):
        placeholders, params = in_clause("e", wanted[start:start + IN_BATCH])
        found.update(fetch_rows(
            conn, f"SELECT external_id, id FROM {table} WHERE source = :ns AND external_id IN ({placeholders})",
            {"ns": source, **params}))
    return found
