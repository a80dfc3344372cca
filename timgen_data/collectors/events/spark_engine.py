"""``collect events --engine spark``: a platform's Parquet logs read by Spark where they lie.

The paths are whatever Spark reads (``s3a://bucket/logs/2026/*/*.parquet``,
``dbfs:/mnt/logs/``, ``hdfs://…``, local files, folders and globs); nothing is copied to
the driver first. The run keeps the local collector's three steps, so a mistake stores nothing:

1. the mapping's columns are checked against the logs' Spark schema (merged over the
   files), with the local collector's message;
2. Spark converts every row of the files not stored yet with the local collector's own
   code (see ``spark_convert``), ordered by (file, row), and writes the result as Parquet
   into ``workdir``; a value the mapping refuses (under ``on_error = "stop"`` or
   ``action.unmapped = "error"``) fails the run there, naming the first failing batch in
   file order, before anything is stored;
3. the driver streams that result into the store in batches of ``batch_rows``, through the
   local collector's row-saving code (users, items, ids, duplicates alike), each committed
   with a cursor holding the file's row reached. The cursor is keyed by the file's path,
   size and modification time as Spark lists them (hashing every byte of a data lake
   would cost a second read) and the mapping's fingerprint, so a killed run resumes where
   it stopped and a finished one re-run reads no file.

The driver holds one batch at a time; the executors one local batch each.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from timgen_data.collectors.events import collector as local
from timgen_data.collectors.events.collector import BATCH_ROWS, COLLECTOR, missing_columns_error
from timgen_data.collectors.events.convert import OUTPUT
from timgen_data.collectors.events.mapping import EventMapping
from timgen_data.collectors.events.read import Header, shown
from timgen_data.collectors.events.spark_convert import (
    BATCH,
    ERRORS,
    OUT_DDL,
    PATH,
    ROW,
    FilePlan,
    converter,
)
from timgen_data.collectors.report import CollectReport, Rejection
from timgen_data.collectors.save import begin_source, finish_source, namespace_counts
from timgen_data.errors import MalformedInputError, UsageError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, load_cursor, save_cursor

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class LakeFile:
    """One Parquet file as Spark lists it."""

    uri: str  # as Spark names it (``_metadata.file_path``)
    size: int
    modified_ms: int
    label: str  # how messages name it: the local path as given, else the URI

    @property
    def identity(self) -> str:
        """Stands in for the local collector's sha256: the file's path, size and modification time."""
        return hashlib.sha256(f"{self.uri}\n{self.size}\n{self.modified_ms}".encode()).hexdigest()

    # The report and the sources table read these, as they read a local file's.
    @property
    def sha256(self) -> str:
        return self.identity

    md5 = None


def collect_events_spark(spark: SparkSession, store: Store, paths: Sequence[str], mapping: EventMapping, *,
                         workdir: Path, force: bool = False, progress: Progress = SILENT,
                         batch_rows: int = BATCH_ROWS) -> CollectReport:
    """Store the interactions of the Parquet logs at ``paths`` (any URI Spark reads), as ``collect_events`` would.

    ``workdir`` holds the converted rows on their way into the store: a folder the driver
    and every executor see (local in local mode). Files written there are removed.

    >>> collect_events_spark(spark_session(), store, ["s3a://lake/logs/2026/*/*.parquet"], mapping,
    ...                      workdir=Path("/shared/tmp"))  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    if not paths:
        raise UsageError("no log files given; pass --path with a Parquet file, folder, glob or URI "
                         "(s3a://, dbfs:/, hdfs://, file://)")
    if mapping.format not in ("auto", "parquet"):
        raise UsageError(f"the Spark engine reads Parquet logs; the mapping says format = {mapping.format!r}: "
                         "collect them without --engine spark")
    if mapping.items is not None or mapping.names is not None:
        given = "[items] (an item file)" if mapping.items is not None else "names (the columns of a headerless file)"
        raise UsageError(f"the Spark engine does not read the mapping's {given} yet: it reads Parquet logs; "
                         "collect without --engine spark")
    with _spark_errors(paths):
        raw = spark.read.option("mergeSchema", "true").parquet(*paths)
        files = _list_files(raw, paths)
        if not files:
            raise UsageError(f"{', '.join(paths)} hold no Parquet rows; check the paths")
        _check_columns(raw, files[0], mapping)
    keys = {f.uri: f"{mapping.namespace}:{f.identity}:{mapping.fingerprint()}" for f in files}
    with store.begin() as conn:
        cursors = {f.uri: None if force else load_cursor(conn, COLLECTOR, keys[f.uri]) for f in files}
    pending = [f for f in files if not (cursors[f.uri] or {}).get("complete")]
    report = local._new_report(files, mapping)
    report.skipped["files_already_stored"] = len(files) - len(pending)
    plans = {f.uri: FilePlan(i, f.label, int((cursors[f.uri] or {}).get("position", 0))) for i, f in enumerate(pending)}
    if pending:
        task = "convert (spark)"
        progress.start(task, total=None, unit="files")
        with _spark_errors(paths):
            converted = _converted(raw.where(F.col("_metadata.file_path").isin(list(plans))), mapping, plans,
                                   batch_rows)
        with _staged(converted, Path(workdir), paths) as folder:
            progress.finish(task)
            with _spark_errors(paths):
                _raise_first_error(spark, folder)
            _store(store, folder, pending, plans, mapping, keys, report, progress, batch_rows)
    with store.begin() as conn:
        report.stored = namespace_counts(conn, mapping.namespace, ("users", "items", "interactions"))
    return report


def _list_files(raw: DataFrame, paths: Sequence[str]) -> list[LakeFile]:
    """Every file of ``raw`` with rows, in path order (a file of no rows stores nothing: it is left out)."""
    from pyspark.sql import functions as F

    listed = (raw.select(F.col("_metadata.file_path").alias("uri"), F.col("_metadata.file_size").alias("size"),
                         F.col("_metadata.file_modification_time").cast("double").alias("modified"))
              .distinct().orderBy("uri").toLocalIterator())
    return [LakeFile(row.uri, int(row.size), int(round(row.modified * 1000)), _label(row.uri, paths)) for row in listed]


def _label(uri: str, paths: Sequence[str]) -> str:
    """A local file as the local collector names it (relative when given relative); any other by its URI."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or any(urlparse(p).scheme for p in paths):
        return uri
    path = unquote(parsed.path)
    if all(os.path.isabs(p) for p in paths):
        return path
    return os.path.relpath(path)


def _check_columns(raw: DataFrame, first: LakeFile, mapping: EventMapping) -> None:
    """The local collector's column check against the schema Spark merged over the files."""
    from pyspark.sql import functions as F

    columns = [name for name in raw.columns]
    used = mapping.columns.used()
    if all(column in columns for column in used.values()):
        return
    # The first row of the first file, for the message (the schema is the files' merged one).
    rows = (raw.where(F.col("_metadata.file_path") == first.uri).orderBy(F.col("_metadata.row_index"))
            .limit(1).collect())
    first_row = {k: shown(v) for k, v in rows[0].asDict().items()} if rows else None
    error = missing_columns_error(first.label, "parquet", Header(columns, first_row), mapping)
    if error is not None:
        raise error


def _converted(raw: DataFrame, mapping: EventMapping, plans: dict[str, FilePlan], batch_rows: int) -> DataFrame:
    """Every row of ``raw`` converted by the local code, ordered by (file, row) across the result's partitions."""
    from pyspark.sql import functions as F

    theirs = list(dict.fromkeys(mapping.columns.used().values()))
    alias = {column: f"c{i}" for i, column in enumerate(theirs)}
    fields = {ours: alias[column] for ours, column in mapping.columns.used().items()}
    row = F.col("_metadata.row_index") + 1  # the local collector counts Parquet rows from 1
    rows = raw.select(*[F.col(f"`{column}`").alias(alias[column]) for column in theirs],
                      F.col("_metadata.file_path").alias(PATH), row.alias(ROW),
                      F.floor((row - 1) / batch_rows).alias(BATCH))
    # Range partitions on (file, batch) keep each local batch in one task, and the tasks in file order.
    ordered = rows.repartitionByRange(PATH, BATCH).sortWithinPartitions(PATH, ROW)
    return ordered.mapInArrow(converter(mapping, fields, plans, batch_rows), OUT_DDL)


@contextmanager
def _staged(frame: DataFrame, workdir: Path, paths: Sequence[str]) -> Iterator[Path]:
    """``frame`` written as Parquet into ``workdir``, its parts in the frame's order; removed on exit."""
    folder = workdir / f"events-{uuid.uuid4().hex[:12]}"
    try:
        with _spark_errors(paths):
            frame.write.mode("errorifexists").parquet(str(folder))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _raise_first_error(spark: SparkSession, folder: Path) -> None:
    """The first batch, in file order, whose values the mapping refused: its error, as the local run raises it."""
    from pyspark.sql import functions as F

    first = (spark.read.parquet(str(folder)).where(F.col("error").isNotNull()).orderBy("file", "position")
             .select("error", "message").limit(1).collect())
    if first:
        raise ERRORS[first[0].error](first[0].message)


def _parts(folder: Path) -> list[Path]:
    # Spark numbers its part files by partition: the names sort in the frame's order.
    return sorted(folder.glob("part-*.parquet"))


def _store(store: Store, folder: Path, pending: list[LakeFile], plans: dict[str, FilePlan], mapping: EventMapping,
           keys: dict[str, str], report: CollectReport, progress: Progress, batch_rows: int) -> None:
    """Stream the converted rows into the store, file after file, a transaction (with its cursor) per batch."""
    parts = _parts(folder)
    task = "store (spark)"
    progress.start(task, total=sum(pq.ParquetFile(p).metadata.num_rows for p in parts), unit="rows")
    report.resumed_from = max([report.resumed_from, *(p.done for p in plans.values())])
    current: _FileRun | None = None
    finished: set[int] = set()
    for part in parts:
        with pq.ParquetFile(part) as parquet:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                files = batch.column("file").to_numpy()
                changes = np.flatnonzero(files[1:] != files[:-1]) + 1
                for start, stop in zip(np.r_[0, changes], np.r_[changes, len(files)]):
                    index = int(files[start])
                    if current is None or current.index != index:
                        if current is not None:
                            finished.add(current.finish())
                        current = _FileRun(store, pending, index, plans, mapping, keys, report)
                    current.save(batch.slice(start, stop - start))
                progress.advance(task, batch.num_rows)
    if current is not None:
        finished.add(current.finish())
    # Files whose rows were all stored before a run was stopped (or that are all rows an earlier
    # run stored): only their end is left to note.
    for index in sorted(set(range(len(pending))) - finished):
        _FileRun(store, pending, index, plans, mapping, keys, report).finish()
    progress.finish(task)


class _FileRun:
    """Storing one file's converted rows, as the local ``_store_file`` stores a file's batches."""

    def __init__(self, store: Store, pending: list[LakeFile], index: int, plans: dict[str, FilePlan],
                 mapping: EventMapping, keys: dict[str, str], report: CollectReport) -> None:
        file = pending[index]
        self.store, self.file, self.index, self.mapping, self.report = store, file, index, mapping, report
        self.key = keys[file.uri]
        self.reached = plans[file.uri].done
        with store.begin() as conn:
            self.source_id = begin_source(conn, collector=COLLECTOR, variant=mapping.name,
                                          namespace=mapping.namespace, url=file.uri, sha256=file.identity, md5=None,
                                          license=None)

    def save(self, batch: pa.RecordBatch) -> None:
        report = self.report
        report.read["rows"] = report.read.get("rows", 0) + batch.num_rows
        positions = batch.column("position").to_numpy()
        reasons = batch.column("reason").to_pylist()
        unmapped = batch.column("unmapped").to_pylist()
        for position, reason in zip(positions.tolist(), reasons):
            if reason is not None:
                report.rejections.add(Rejection(self.file.label, position, reason))
        for value in unmapped:
            if value is not None:
                name = f"action {value!r} not mapped"
                report.skipped[name] = report.skipped.get(name, 0) + 1
        kept = _is_null(batch, "reason") & _is_null(batch, "unmapped")
        rows = _frame(batch.filter(pa.array(kept)))
        last = int(positions.max())
        # The batch and the cursor commit together: a kill leaves both or neither.
        with self.store.begin() as conn:
            local._save_rows(conn, rows, self.mapping, self.source_id, report)
            save_cursor(conn, COLLECTOR, self.key, {"position": last, "complete": False})
        self.reached = max(self.reached, last)

    def finish(self) -> int:
        with self.store.begin() as conn:
            save_cursor(conn, COLLECTOR, self.key, {"position": self.reached, "complete": True})
            finish_source(conn, self.source_id, {"last_position": self.reached,
                                                 "rejected": self.report.rejections.count})
        return self.index


def _is_null(batch: pa.RecordBatch, column: str) -> np.ndarray:
    return batch.column(column).is_null().to_numpy(zero_copy_only=False)


def _frame(batch: pa.RecordBatch) -> pd.DataFrame:
    """Converted rows as the local ``convert_batch`` hands them over: text as objects with None, NaN numbers."""
    out = {}
    for name in OUTPUT:
        array = batch.column(name)
        if name == "ts":
            out[name] = array.to_numpy()
        elif name in ("value", "duration"):
            out[name] = array.to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            out[name] = pd.Series(array.to_numpy(zero_copy_only=False), dtype=object)
    return pd.DataFrame(out)


@contextmanager
def _spark_errors(paths: Sequence[str]) -> Iterator[None]:
    """Spark's failures reading the logs as one-line errors (a missing path, a file that is no Parquet)."""
    try:
        yield
    except Exception as error:
        from pyspark.errors import PySparkException

        try:
            from py4j.protocol import Py4JJavaError
        except ImportError:  # Spark Connect has no JVM here
            Py4JJavaError = ()  # noqa: N806
        if not isinstance(error, (PySparkException, *((Py4JJavaError,) if Py4JJavaError else ()))):
            raise
        condition = getattr(error, "getCondition", lambda: None)() or ""
        first = next((line.strip() for line in str(error).splitlines() if line.strip()), type(error).__name__)
        if condition == "PATH_NOT_FOUND":
            raise UsageError(f"{first}; pass Parquet files, folders, globs or URIs Spark can read") from None
        raise MalformedInputError(f"Spark could not read the logs {', '.join(paths)}: {first[:500]}") from None
