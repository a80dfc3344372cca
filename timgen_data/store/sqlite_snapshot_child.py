"""The program a SQLite :func:`~timgen_data.store.batches.snapshot` runs in a child process:
queries on one read transaction of a SQLite file through ADBC, each answered on standard
output as an Arrow IPC stream.

Started with the file's path as its argument, it reads requests from standard input, one
JSON line each: ``sql`` (``?`` placeholders), ``values``, ``schema`` (an Arrow schema,
serialized and base64-encoded) and ``batch_rows``; it answers each with one IPC stream and
waits for the next, until standard input ends. Every query runs in the same read
transaction, so all of them see the file as it was at the first. It imports nothing of the
toolkit, so it starts in a fraction of a second: only pyarrow and the ADBC driver. A
failure is one line on standard error and exit status 1.

SQLite's ADBC driver infers each column's type from the first rows and fails when a later
row holds another type, as a nullable column does when its first values are NULL. So each
column is read as ``COALESCE(column, <zero>)`` cast to the wanted type plus, unless its
field says it is never null (``nullable=False``), a ``column IS NULL`` flag, and the nulls
are put back in Arrow: the types never waver.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from urllib.parse import quote

import adbc_driver_sqlite.dbapi as adbc_sqlite
import pyarrow as pa
import pyarrow.compute as pc

# How SQLite is asked for each Arrow type, and the stand-in for NULL before the cast.
_SQLITE_TYPES = {
    pa.int64(): ("INTEGER", "0"), pa.int32(): ("INTEGER", "0"), pa.float64(): ("REAL", "0.0"),
    pa.float32(): ("REAL", "0.0"), pa.string(): ("TEXT", "''"), pa.bool_(): ("INTEGER", "0"),
}


def wrapped(sql: str, schema: pa.Schema) -> tuple[str, list[tuple[int, int | None]]]:
    """``sql`` with each field as its value and, when nullable, its null flag; and per field
    where those two columns are (None: no flag)."""
    wanted, places = [], []
    for field in schema:
        sql_type, zero = _SQLITE_TYPES[field.type]
        name = f'"q"."{field.name}"'
        wanted.append(f"CAST(COALESCE({name}, {zero}) AS {sql_type})")
        places.append((len(wanted) - 1, len(wanted) if field.nullable else None))
        if field.nullable:
            wanted.append(f"({name} IS NULL)")
    return f"SELECT {', '.join(wanted)} FROM ({sql}) AS q", places


def converted(raw: pa.RecordBatch, schema: pa.Schema, places: list[tuple[int, int | None]]) -> pa.RecordBatch:
    arrays = []
    for field, (at, flag) in zip(schema, places):
        value = raw.column(at)
        if field.type == pa.bool_():
            value = pc.not_equal(value, 0)
        value = value.cast(field.type)
        if flag is not None:
            null = raw.column(flag)
            if null.null_count or pc.any(pc.not_equal(null, 0)).as_py():
                value = pc.if_else(pc.not_equal(null, 0), pa.scalar(None, field.type), value)
        arrays.append(value)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def answer(conn, request: dict, out) -> None:
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(request["schema"])))
    batch_rows = int(request["batch_rows"])
    sql, places = wrapped(request["sql"], schema)
    cursor = conn.cursor()
    try:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(batch_rows)})
        cursor.execute(sql, request["values"] or None)
        with pa.ipc.new_stream(out, schema) as writer:
            for raw in cursor.fetch_record_batch():
                batch = converted(raw, schema, places)
                for start in range(0, batch.num_rows, batch_rows):
                    writer.write_batch(batch.slice(start, batch_rows))
        out.flush()
    finally:
        cursor.close()


def main() -> int:
    try:
        # Read-only: it can never checkpoint or delete the write-ahead log the store's writers
        # use. Not autocommit: its queries share one read transaction.
        with adbc_sqlite.connect(f"file:{quote(sys.argv[1])}?mode=ro") as conn:
            for line in sys.stdin:
                answer(conn, json.loads(line), sys.stdout.buffer)
    except BrokenPipeError:  # the reader stopped early: nothing more is wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor at exit
        return 0
    except Exception as error:  # noqa: BLE001 - the parent turns this line into its own error
        said = str(error).strip().splitlines()
        print(f"{type(error).__name__}: {said[0] if said else ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
