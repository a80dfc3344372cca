"""Reading query results as Arrow record batches of a bounded size, through ADBC.

Whole-table stages (``label``, ``build``) read every interaction; holding them as Python
tuples costs hundreds of bytes a row, so they stream Arrow batches instead, whose size
does not depend on the corpus. The ADBC drivers of SQLite and PostgreSQL hand results over
as Arrow directly, several times faster than fetching tuples.

SQLite's ADBC driver infers each column's type from the first rows and fails when a later
row holds another type, as a nullable column does when its first values are NULL. So on
SQLite every column is read as ``COALESCE(column, <zero>)`` cast to the wanted type plus a
``column IS NULL`` flag, and the nulls are put back in Arrow: the types never waver.

The reader uses a connection of its own, so it sees what is committed; write first,
commit, then read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import make_url

from timgen_data.errors import StoreError

DEFAULT_BATCH_ROWS = 65_536
_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")
# How SQLite is asked for each Arrow type, and the stand-in for NULL before the cast.
_SQLITE_TYPES = {
    pa.int64(): ("INTEGER", "0"), pa.int32(): ("INTEGER", "0"), pa.float64(): ("REAL", "0.0"),
    pa.float32(): ("REAL", "0.0"), pa.string(): ("TEXT", "''"), pa.bool_(): ("INTEGER", "0"),
}


def read_batches(store, sql: str, params: dict[str, Any] | None, schema: pa.Schema, *,
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Run ``sql`` (``:name`` placeholders) and yield its rows as batches of ``schema``.

    ``schema`` names the query's columns in order and their Arrow types; batches hold at
    most ``batch_rows`` rows (fewer where the driver ends a batch early).

    >>> schema = pa.schema([("user_id", pa.int64()), ("ts", pa.int64())])
    >>> for batch in read_batches(store, "SELECT user_id, ts FROM interactions", None, schema):  # doctest: +SKIP
    ...     ...
    """
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    if store.dialect == "sqlite":
        yield from _sqlite_batches(store, sql, params or {}, schema, batch_rows)
    else:
        yield from _postgres_batches(store, sql, params or {}, schema, batch_rows)


def _positional(sql: str, params: dict[str, Any], mark: str) -> tuple[str, list[Any]]:
    """``:name`` placeholders as positional ones (``?`` or ``$n``), with their values in order."""
    values: list[Any] = []

    def replace(match: re.Match) -> str:
        values.append(params[match.group(1)])
        return "?" if mark == "?" else f"${len(values)}"

    return _NAMED.sub(replace, sql), values


def _rebatch(reader, schema: pa.Schema, batch_rows: int, convert) -> Iterator[pa.RecordBatch]:
    """The driver's batches, converted to ``schema`` and cut to at most ``batch_rows`` rows."""
    for raw in reader:
        batch = convert(raw)
        for start in range(0, batch.num_rows, batch_rows):
            yield batch.slice(start, batch_rows)


def _sqlite_batches(store, sql: str, params: dict[str, Any], schema: pa.Schema,
                    batch_rows: int) -> Iterator[pa.RecordBatch]:
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    if store.file is None:
        raise StoreError("batched reads need a SQLite file or a PostgreSQL server, not an in-memory store")
    wanted = []
    for field in schema:
        sql_type, zero = _SQLITE_TYPES[field.type]
        name = f'"q"."{field.name}"'
        wanted.append(f'CAST(COALESCE({name}, {zero}) AS {sql_type})')
        wanted.append(f"({name} IS NULL)")
    # The outer query renames nothing: column k of the result is 2k (value) and 2k + 1 (null flag).
    wrapped = f"SELECT {', '.join(wanted)} FROM ({sql}) AS q"
    query, values = _positional(wrapped, params, "?")

    def convert(raw: pa.RecordBatch) -> pa.RecordBatch:
        arrays = []
        for k, field in enumerate(schema):
            value, null = raw.column(2 * k), raw.column(2 * k + 1)
            if field.type == pa.bool_():
                value = pc.not_equal(value, 0)
            value = value.cast(field.type)
            if null.null_count or pc.any(pc.not_equal(null, 0)).as_py():
                value = pc.if_else(pc.not_equal(null, 0), pa.scalar(None, field.type), value)
            arrays.append(value)
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    with closing(adbc_sqlite.connect(str(store.file))) as conn, closing(conn.cursor()) as cursor:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cursor.execute(query, values or None)
        yield from _rebatch(cursor.fetch_record_batch(), schema, batch_rows, convert)


def _postgres_batches(store, sql: str, params: dict[str, Any], schema: pa.Schema,
                      batch_rows: int) -> Iterator[pa.RecordBatch]:
    import adbc_driver_postgresql.dbapi as adbc_postgres

    uri = make_url(store.engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
    query, values = _positional(sql, params, "$")

    def convert(raw: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([raw.column(k).cast(f.type) for k, f in enumerate(schema)], schema=schema)

    with closing(adbc_postgres.connect(uri)) as conn, closing(conn.cursor()) as cursor:
        cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(batch_rows * 64)})
        cursor.execute(query, values or None)
        yield from _rebatch(cursor.fetch_record_batch(), schema, batch_rows, convert)
