"""Reading query results as Arrow record batches of a bounded size, through ADBC.

Whole-table stages (``label``, ``build``) read every interaction; holding them as Python
tuples costs hundreds of bytes a row, so they stream Arrow batches instead, whose size
does not depend on the corpus. The ADBC drivers of SQLite and PostgreSQL hand results over
as Arrow directly, several times faster than fetching tuples.

SQLite's ADBC driver carries its own copy of SQLite, and two copies in one process do not
see each other's file locks (POSIX locks belong to the process; closing any handle on a
file drops all of them): an ADBC connection closing takes itself for the store's last user
and checkpoints and deletes the write-ahead log under the store's own connections, whose
later commits are then lost. So on SQLite the reads run in a child process
(``sqlite_snapshot_child.py``), an ordinary SQLite client among others, which sends each
result back as an Arrow IPC stream; it reads ahead on another core.

A reader sees what is committed; write first, commit, then read. A stage that reads in
several passes opens a :func:`snapshot`: its reads share one connection and one read
transaction, so every pass sees the same data even while another command writes.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy.engine import make_url

from timgen_data.errors import StoreError

DEFAULT_BATCH_ROWS = 65_536
_NAMED = re.compile(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)")
_CHILD = Path(__file__).with_name("sqlite_snapshot_child.py")


def read_batches(store, sql: str, params: dict[str, Any] | None, schema: pa.Schema, *,
                 batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """Run ``sql`` (``:name`` placeholders) and yield its rows as batches of ``schema``.

    ``schema`` names the query's columns in order and their Arrow types; batches hold at
    most ``batch_rows`` rows (fewer where the driver ends a batch early). A field marked
    ``nullable=False`` is read without null handling, faster: its values must never be NULL.

    >>> schema = pa.schema([("user_id", pa.int64()), ("ts", pa.int64())])
    >>> for batch in read_batches(store, "SELECT user_id, ts FROM interactions", None, schema):  # doctest: +SKIP
    ...     ...
    """
    with snapshot(store) as view:
        yield from view.read_batches(sql, params, schema, batch_rows=batch_rows)


class Snapshot:
    """Reads that all see the store as it was at the first of them (see :func:`snapshot`)."""

    def ask(self, sql: str, params: dict[str, Any] | None, schema: pa.Schema, *,
            batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Start a read now and return its batches (as :func:`read_batches` gives them), to be taken
        to the end, after those of the reads asked before it. On SQLite the store works on it
        meanwhile, so asking for the next read before working on this one's rows overlaps the two.
        """
        raise NotImplementedError

    def read_batches(self, sql: str, params: dict[str, Any] | None, schema: pa.Schema, *,
                     batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """:func:`read_batches` on this snapshot: a read asked when its first batch is wanted."""
        yield from self.ask(sql, params, schema, batch_rows=batch_rows)


@contextmanager
def snapshot(store) -> Iterator[Snapshot]:
    """One connection in one read transaction, for a stage that reads the store in several passes.

    On SQLite a read transaction sees what was committed when it first read; on PostgreSQL
    the transaction is REPEATABLE READ, which means the same. Writers are not blocked.

    >>> with snapshot(store) as view:  # doctest: +SKIP
    ...     counts = list(view.read_batches("SELECT user_id FROM interactions", None, schema))
    ...     rows = list(view.read_batches("SELECT * FROM interactions WHERE user_id IN (1, 2)", None, full))
    """
    if store.dialect == "sqlite":
        if store.file is None:
            raise StoreError("batched reads need a SQLite file or a PostgreSQL server, not an in-memory store")
        with _SqliteSnapshot(Path(store.file)) as view:
            yield view
        return
    import adbc_driver_postgresql.dbapi as adbc_postgres

    uri = make_url(store.engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
    with closing(adbc_postgres.connect(uri)) as conn:
        conn.adbc_connection.set_options(**{
            "adbc.connection.transaction.isolation_level": "adbc.connection.transaction.isolation.repeatable_read"})
        yield _PostgresSnapshot(conn)


def _positional(sql: str, params: dict[str, Any], mark: str) -> tuple[str, list[Any]]:
    """``:name`` placeholders as positional ones (``?`` or ``$n``), with their values in order."""
    values: list[Any] = []

    def replace(match: re.Match) -> str:
        values.append(params[match.group(1)])
        return "?" if mark == "?" else f"${len(values)}"

    return _NAMED.sub(replace, sql), values


def _check(batch_rows: int) -> None:
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")


class _SqliteSnapshot(Snapshot):
    """Queries answered by a child process holding one read transaction (see the module's docstring)."""

    def __init__(self, file: Path):
        self._file = file
        self._child: subprocess.Popen | None = None
        self._errors = None
        self._asked = self._answered = 0  # reads asked, and read to their end

    def __enter__(self) -> _SqliteSnapshot:
        self._errors = tempfile.TemporaryFile()
        # -P: nothing beside the child's file (or the current folder) is put on its import path.
        try:
            self._child = subprocess.Popen([sys.executable, "-P", str(_CHILD), str(self._file)],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors)
        except OSError as error:
            self._errors.close()
            raise StoreError(f"could not start the reader of the store {self._file.name}: {error}") from None
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None or self._asked > self._answered:  # it may be mid-answer: no use waiting
            self._stop()
        child, self._child = self._child, None
        if child is not None:
            try:
                child.stdin.close()  # the end of the requests: the child ends its transaction and exits
                child.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                child.kill()
                child.wait()
            child.stdout.close()
        self._errors.close()

    def ask(self, sql, params, schema, *, batch_rows=DEFAULT_BATCH_ROWS):
        _check(batch_rows)
        if self._child is None:
            raise StoreError(f"the reader of the store {self._file.name} has stopped; read it again")
        query, values = _positional(sql, params or {}, "?")
        request = json.dumps({"sql": query, "values": values, "batch_rows": batch_rows,
                              "schema": base64.b64encode(schema.serialize().to_pybytes()).decode()})
        try:
            self._child.stdin.write(request.encode() + b"\n")
            self._child.stdin.flush()
        except OSError as error:
            raise StoreError(f"reading the store {self._file.name} failed: {self._reason(error)}") from None
        self._asked += 1
        return self._answer(self._asked)

    def _answer(self, number: int) -> Iterator[pa.RecordBatch]:
        if number != self._answered + 1:
            raise ValueError("a snapshot's reads are taken in the order they were asked, each to its end")
        finished = False
        try:
            with pa.ipc.open_stream(self._child.stdout) as reader:
                yield from reader
            finished = True
            self._answered = number
        except (OSError, pa.ArrowInvalid) as error:
            raise StoreError(f"reading the store {self._file.name} failed: {self._reason(error)}") from None
        finally:
            if not finished:  # stopped early or failed: the child is mid-answer, so it goes
                self._stop()

    def _reason(self, error: Exception) -> str:
        """What the child said when it failed, else ``error`` (the pipe's side of it)."""
        try:
            if self._child is not None:
                self._child.wait(timeout=10)  # a failing child says why and exits
        except subprocess.TimeoutExpired:
            return str(error)
        self._errors.seek(0)
        said = self._errors.read().decode(errors="replace").strip().splitlines()
        return said[-1] if said else str(error)

    def _stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.kill()
            child.wait()
            child.stdout.close()
            try:
                child.stdin.close()
            except OSError:  # what it had not read yet cannot be flushed
                pass


class _PostgresSnapshot(Snapshot):
    def __init__(self, conn):
        self._conn = conn

    def ask(self, sql, params, schema, *, batch_rows=DEFAULT_BATCH_ROWS):
        _check(batch_rows)
        return self._answer(sql, params, schema, batch_rows)  # run when first taken: one cursor at a time

    def _answer(self, sql, params, schema, batch_rows) -> Iterator[pa.RecordBatch]:
        query, values = _positional(sql, params or {}, "$")

        def convert(raw: pa.RecordBatch) -> pa.RecordBatch:
            return pa.RecordBatch.from_arrays([raw.column(k).cast(f.type) for k, f in enumerate(schema)], schema=schema)

        with closing(self._conn.cursor()) as cursor:
            cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(batch_rows * 64)})
            cursor.execute(query, values or None)
            for raw in cursor.fetch_record_batch():
                batch = convert(raw)
                for start in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(start, batch_rows)
