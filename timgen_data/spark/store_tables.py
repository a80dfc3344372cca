"""The store's tables as Spark DataFrames, and Spark results written back into the store.

Reading: every table named is read from one consistent snapshot of the store (what was
committed when the read began, even while another command writes), with the store's
column names and the Spark types of :func:`spark_schema`.

- SQLite (or PostgreSQL without a JDBC driver): the tables are streamed through
  ``store.batches.snapshot`` into Parquet files in ``workdir``, one Arrow batch at a time,
  and Spark reads those files. ``workdir`` must be visible to every executor (a local
  folder in local mode; a shared path on a cluster).
- PostgreSQL with the JDBC driver on the session's class path: Spark reads the tables
  itself, in partitions by user (or by the table's key). The partitions' connections share
  the snapshot that a transaction held open here exports (``pg_export_snapshot``), so they
  all see the same data.

Writing back: a Spark result is written as Parquet into ``workdir`` by the executors, then
streamed into the store in batches of bounded size; the driver never holds the whole result.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import BigInteger, Float, Integer, LargeBinary, Text, text
from sqlalchemy.engine import make_url

from timgen_data.errors import StoreError, UsageError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, models, upsert_rows
from timgen_data.store.batches import DEFAULT_BATCH_ROWS, snapshot

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Every integer is 64-bit: SQLite's INTEGER is, and one type for both stores keeps joins simple.
_ARROW_TYPES = ((BigInteger, pa.int64()), (Integer, pa.int64()), (Float, pa.float64()),
                (Text, pa.string()), (LargeBinary, pa.binary()))
# The column Spark splits a table's JDBC read on: by user for interactions (the engines
# work per user), else the table's integer key.
_PARTITION_COLUMNS = {"interactions": "user_id", "users": "id", "items": "id", "sources": "id", "assets": "id",
                      "labels": "interaction_id", "features": "asset_id", "item_links": "item_id"}
# Rows per Parquet row group of a snapshot: Spark splits its reads along them.
_ROW_GROUP_ROWS = 1 << 20
_JDBC_FETCH_ROWS = 10_000
# Bytes (before compression) per row group of a result read back: the driver decodes a row
# group's pages at once, and Spark's default (128 MiB) would make that its largest allocation.
_RESULT_ROW_GROUP_BYTES = 16 << 20


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a store table: its columns in order, each as :data:`_ARROW_TYPES` maps it."""
    try:
        columns = models.metadata.tables[table].columns
    except KeyError:
        raise UsageError(f"the store has no table {table!r}") from None
    return pa.schema([pa.field(c.name, _arrow_type(c.type), nullable=True) for c in columns])


def _arrow_type(sql_type) -> pa.DataType:
    for kind, arrow in _ARROW_TYPES:
        if isinstance(sql_type, kind):
            return arrow
    raise TypeError(f"no Arrow type for the store's {sql_type!r}")


def spark_schema(table: str):
    """The Spark ``StructType`` of a store table (``bigint``, ``double``, ``string``, ``binary``)."""
    from pyspark.sql import types as T

    spark_types = {pa.int64(): T.LongType(), pa.float64(): T.DoubleType(), pa.string(): T.StringType(),
                   pa.binary(): T.BinaryType()}
    return T.StructType([T.StructField(f.name, spark_types[f.type], True) for f in arrow_schema(table)])


@contextmanager
def store_frames(spark: SparkSession, store: Store, tables: Sequence[str], *, workdir: Path,
                 jdbc: bool | None = None) -> Iterator[dict[str, DataFrame]]:
    """DataFrames of ``tables``, all from one snapshot of ``store``, valid inside the ``with`` block.

    ``jdbc``: None reads a PostgreSQL store through JDBC when the driver is on the session's
    class path, else through a Parquet snapshot; True insists on JDBC; False never uses it.
    Files written into ``workdir`` are removed on exit.

    >>> with store_frames(spark, store, ["interactions", "items"], workdir=tmp) as frames:  # doctest: +SKIP
    ...     frames["interactions"].groupBy("user_id").count().show()
    """
    for table in tables:
        arrow_schema(table)  # an unknown name is refused before any work
    use_jdbc = store.dialect == "postgresql" and (jdbc if jdbc is not None else jdbc_driver_loaded(spark))
    if use_jdbc and not jdbc_driver_loaded(spark):
        from timgen_data.spark.session import JDBC_HINT

        raise UsageError(f"reading the store through JDBC needs the PostgreSQL JDBC driver on Spark's class path: {JDBC_HINT}")
    folder = Path(workdir) / f"store-snapshot-{uuid.uuid4().hex[:12]}"
    try:
        if use_jdbc:
            with _jdbc_frames(spark, store, tables) as frames:
                yield frames
        else:
            yield _parquet_frames(spark, store, tables, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _parquet_frames(spark: SparkSession, store: Store, tables: Sequence[str], folder: Path) -> dict[str, DataFrame]:
    folder.mkdir(parents=True, exist_ok=False)
    paths: dict[str, Path] = {}
    with snapshot(store) as view:
        for table in tables:
            schema = arrow_schema(table)
            path = folder / table / "part-00000.parquet"
            path.parent.mkdir()
            columns = ", ".join(f'"{name}"' for name in schema.names)
            with pq.ParquetWriter(path, schema) as writer:
                # Arrow batches of bounded size, gathered into row groups Spark can split on.
                pending: list[pa.RecordBatch] = []
                rows = 0
                for batch in view.read_batches(f"SELECT {columns} FROM {table}", None, schema):
                    pending.append(batch)
                    rows += batch.num_rows
                    if rows >= _ROW_GROUP_ROWS:
                        writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=_ROW_GROUP_ROWS)
                        pending, rows = [], 0
                writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=_ROW_GROUP_ROWS)
            paths[table] = path.parent
    return {table: spark.read.schema(spark_schema(table)).parquet(str(path)) for table, path in paths.items()}


def jdbc_driver_loaded(spark: SparkSession) -> bool:
    """Whether Spark can load the PostgreSQL JDBC driver (it was on the class path when the session started)."""
    try:
        jvm = spark.sparkContext._jvm
        loader = jvm.org.apache.spark.util.Utils.getContextOrSparkClassLoader()
        jvm.java.lang.Class.forName("org.postgresql.Driver", False, loader)
        return True
    except Exception:  # Py4JJavaError: ClassNotFoundException; no JVM access (Spark Connect)
        return False


def jdbc_url(store: Store) -> tuple[str, dict[str, str]]:
    """The store's PostgreSQL URL as a JDBC URL and the connection properties (user, password)."""
    url = make_url(store.engine.url)
    host = url.host or "localhost"
    jdbc = f"jdbc:postgresql://{host}{f':{url.port}' if url.port else ''}/{url.database or ''}"
    properties = {"driver": "org.postgresql.Driver"}
    if url.username:
        properties["user"] = url.username
    if url.password:
        properties["password"] = str(url.password)
    return jdbc, properties


@contextmanager
def _jdbc_frames(spark: SparkSession, store: Store, tables: Sequence[str]) -> Iterator[dict[str, DataFrame]]:
    from pyspark.sql import functions as F

    url, properties = jdbc_url(store)
    parallelism = max(1, spark.sparkContext.defaultParallelism)
    with ExitStack() as stack:
        # A transaction held open for the whole block: its exported snapshot is what every partition reads.
        conn = stack.enter_context(store.engine.connect().execution_options(isolation_level="REPEATABLE READ"))
        stack.enter_context(conn.begin())
        snapshot_id = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        init = ("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
                f"SET TRANSACTION SNAPSHOT '{snapshot_id}'")
        frames: dict[str, DataFrame] = {}
        for table in tables:
            schema = arrow_schema(table)
            reader = (spark.read.format("jdbc").option("url", url).option("dbtable", table)
                      .option("fetchsize", str(_JDBC_FETCH_ROWS)).option("sessionInitStatement", init))
            for key, value in properties.items():
                reader = reader.option(key, value)
            split = _PARTITION_COLUMNS.get(table)
            if split is not None:
                low, high = conn.execute(text(f"SELECT MIN({split}), MAX({split}) FROM {table}")).one()
                if low is not None and high > low:
                    reader = (reader.option("partitionColumn", split).option("lowerBound", str(low))
                              .option("upperBound", str(high + 1)).option("numPartitions", str(parallelism)))
            raw = reader.load()
            frames[table] = raw.select([F.col(f'`{f.name}`').cast(t.dataType).alias(f.name)
                                        for f, t in zip(schema, spark_schema(table).fields)])
        yield frames


class ResultBatches:
    """A Spark result's rows as Arrow batches read back from its Parquet files; ``rows`` is their number."""

    def __init__(self, folder: Path, batch_rows: int):
        self._files = sorted(folder.glob("*.parquet"))
        self._batch_rows = batch_rows
        self.rows = sum(pq.ParquetFile(path).metadata.num_rows for path in self._files)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for path in self._files:
            with pq.ParquetFile(path) as parquet:
                yield from parquet.iter_batches(batch_size=self._batch_rows)


@contextmanager
def frame_batches(frame: DataFrame, *, workdir: Path, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[ResultBatches]:
    """The rows of a Spark ``frame`` as Arrow batches of at most ``batch_rows`` rows, in partition order.

    The executors write ``frame`` as Parquet into ``workdir`` (visible to the driver: local
    in local mode, shared on a cluster), a file per partition; the batches are then read
    back one at a time, file by file in the partitions' order and each file's rows in
    order. So a frame sorted by ``orderBy``, or by ``repartitionByRange`` then
    ``sortWithinPartitions``, comes back in its order (the build relies on it). Row groups
    are kept small (:data:`_RESULT_ROW_GROUP_BYTES`): the driver reads one at a time.
    The files are removed on exit.

    >>> with frame_batches(labels, workdir=tmp) as batches:  # doctest: +SKIP
    ...     for batch in batches: ...
    """
    folder = Path(workdir) / f"spark-result-{uuid.uuid4().hex[:12]}"
    try:
        (frame.write.mode("errorifexists").option("parquet.block.size", str(_RESULT_ROW_GROUP_BYTES))
         .parquet(str(folder)))
        yield ResultBatches(folder, batch_rows)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def write_store_rows(store: Store, frame: DataFrame, table: str, *, conflict: Sequence[str], update: Sequence[str] = (),
                     workdir: Path, batch_rows: int = DEFAULT_BATCH_ROWS,
                     before_first: Callable[[Any], None] | None = None,
                     progress: Progress = SILENT, task: str | None = None) -> int:
    """Upsert the rows of ``frame`` (columns named as ``table``'s) into ``table``, a transaction per batch.

    ``before_first(conn)`` runs inside the first batch's transaction (a stage notes there that
    it is writing). Once Spark has computed ``frame``, ``task`` (default "write <table>")
    starts with the number of rows as its total and advances batch by batch. Returns the rows written.
    """
    columns = frame.columns
    unknown = set(columns) - set(arrow_schema(table).names)
    if unknown:
        raise StoreError(f"the store's {table} table has no column {sorted(unknown)[0]!r}")
    task = task or f"write {table}"
    written, first = 0, True
    with frame_batches(frame, workdir=workdir, batch_rows=batch_rows) as batches:
        progress.start(task, total=batches.rows, unit="rows")
        for batch in batches:
            if not batch.num_rows:
                continue
            rows = list(zip(*(batch.column(name).to_pylist() for name in columns)))
            with store.begin() as conn:
                if first and before_first is not None:
                    before_first(conn)
                written += upsert_rows(conn, table, columns, rows, conflict=conflict, update=update)
            first = False
            progress.advance(task, len(rows))
    return written
