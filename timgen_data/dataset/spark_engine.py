"""``build --engine spark``: the same dataset as :func:`timgen_data.dataset.dataset.build_dataset`, made by Spark.

Spark reads the store's tables (:func:`timgen_data.spark.store_frames`: one snapshot) and
does the work that grows with the corpus: the label join, the sources' counts, the
filters (:mod:`~timgen_data.dataset.spark_selection`), each user's sorted sequence
(:mod:`~timgen_data.dataset.spark_splits`), and the statistics' totals. The driver then
reads the users back in the dataset's order, a batch at a time, cuts each batch into the
three splits' rows with the local engine's rules (:mod:`~timgen_data.dataset.splits`), and
streams them into the same Parquet shards the local engine writes
(:class:`~timgen_data.dataset.shards.ShardWriter`: same rows, row groups and file names),
then writes the rest of the contract (items, users, card, ``build.json``, ``stats.png``)
through the same code (:func:`~timgen_data.dataset.dataset.write_contract`). For a fixed
store both engines write the same bytes.

The driver holds what the local engine holds: the batches whose rows wait for their row
group (the three splits share one compact copy of each batch,
:class:`~timgen_data.dataset.tables.ChunkColumns`), plus one number and one name per user
and the names of the items used; it never collects a table.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.dataset.chunks import Chunk
from timgen_data.dataset.dataset import (
    CHUNK_ROWS,
    BuildOptions,
    BuildResult,
    output_folder,
    source_rows_of,
    write_contract,
    write_staged,
)
from timgen_data.dataset.shards import ShardWriter
from timgen_data.dataset.sources import check_sources
from timgen_data.dataset.spark_selection import ITEM_ORDER, USER_ORDER, select_rows
from timgen_data.dataset.spark_splits import POSITION_COLUMNS, user_sequences, with_given_splits
from timgen_data.dataset.splits import SPLITS, SplitRows, check_time_cuts, given_split, leave_last_out, time_split
from timgen_data.dataset.statistics import DatasetTally
from timgen_data.dataset.tables import INTERACTIONS_SCHEMA, ChunkColumns, RepeatedText, SplitPart, join_parts
from timgen_common.output_folder import Protected
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_TABLES = ("interactions", "labels", "users", "items")
# Users (a row each, with their whole sequence) per batch the driver reads back.
_BATCH_ROWS = 2_048
# Interactions per range of users whose sequences a task makes (about; a range holds whole users).
_PARTITION_ROWS = 250_000


def build_dataset_spark(
    spark: SparkSession, store: Store, out_dir: Path, options: BuildOptions = BuildOptions(), *,
    progress: Progress = SILENT, force: bool = False, protect: Iterable[Protected] | None = None,
    workdir: Path | None = None,
) -> BuildResult:
    """:func:`timgen_data.dataset.dataset.build_dataset` with Spark: the same folder rules,
    refusals, left-out counts and dataset.

    ``workdir`` holds the scratch files (a Parquet snapshot of a SQLite store, the rows
    read back): by default the system's temporary folder; on a cluster, a path every
    executor and the driver see.

    >>> build_dataset_spark(spark_session(), store, Path("out/ml-1m"), BuildOptions(k_core=5))  # doctest: +SKIP
    """
    from timgen_data.spark.store_tables import store_frames

    options.validate()
    out_dir = Path(out_dir)
    folder = output_folder(store, out_dir, force=force, protect=protect)
    with store.begin() as conn:
        sources = check_sources(conn, options.scenario, list(options.sources) or None)
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="timgen-spark-build-", dir=workdir)))
        frames = stack.enter_context(store_frames(spark, store, list(_TABLES), workdir=scratch))
        selection = select_rows(frames, options.scenario, sources, requested=bool(options.sources),
                                min_interactions=options.min_interactions, k_core=options.k_core)
        stack.callback(selection.rows.unpersist)
        chosen = selection.chosen
        with store.begin() as conn:
            source_rows = source_rows_of(conn, list(chosen.sources))
        if options.split == "time":
            check_time_cuts(int(options.valid_start), int(options.test_start))
        given = options.split == "given"
        rows = with_given_splits(spark, selection.rows, str(options.split_file)) if given else selection.rows
        # Steps: the selection, each chunk of interactions, the items and users, the swap.
        progress.start("build", total=-(-selection.num_interactions // CHUNK_ROWS) + 3)
        progress.advance("build")
        tally = _tally(selection.rows)
        items = _item_names(selection.rows, scratch)
        writer = ShardWriter(selection.num_interactions, other_rows=len(items) + selection.num_users)

        def write(staging: Path):
            ordered = user_sequences(rows, _partitions(spark, selection.num_interactions), given=given)
            written = _write_interactions(staging / "interactions", writer, ordered, _split_rule(options), scratch,
                                          progress)
            return write_contract(staging, writer, store, options, chosen, source_rows, written.shards,
                                  written.counts, item_names=items, user_names=written.user_names,
                                  lengths=written.lengths, tally=tally, progress=progress)

        statistics, shards = write_staged(folder, out_dir, writer, write)
    progress.advance("build")
    progress.finish("build")
    return BuildResult(out_dir, statistics, shards, dict(chosen.left_out))


def _partitions(spark: SparkSession, interactions: int) -> int:
    """Ranges of users the sequences are made in: every core busy, each range of bounded size."""
    return max(spark.sparkContext.defaultParallelism, -(-interactions // _PARTITION_ROWS))


# Cuts a batch of users into the three splits' rows (the local engine's rules).
SplitRule = Callable[[Chunk, pa.RecordBatch], dict[str, SplitRows]]


def _split_rule(options: BuildOptions) -> SplitRule:
    if options.split == "time":
        return lambda chunk, batch: time_split(chunk, int(options.valid_start), int(options.test_start))
    if options.split == "given":
        return lambda chunk, batch: given_split(chunk, batch.column("given").flatten().to_numpy())
    return lambda chunk, batch: leave_last_out(chunk)


@dataclass(frozen=True)
class _Written:
    shards: dict[str, list[str]]  # per split, its files relative to the dataset
    counts: dict[str, dict[str, int]]  # per split, its rows and target positions
    user_names: np.ndarray  # the users in the dataset's order
    lengths: np.ndarray  # their interactions


def _write_interactions(folder: Path, writer: ShardWriter, ordered: DataFrame, rule: SplitRule, scratch: Path,
                        progress: Progress) -> _Written:
    """Stream the users' sequences, in the dataset's order (partition by partition), cut by
    ``rule``, into the three splits' shards (as :func:`timgen_data.dataset.interaction_shards.write_interactions`)."""
    from timgen_data.spark.store_tables import frame_batches

    assemble = partial(join_parts, repeated=RepeatedText())  # one set of shared buffers for every split
    shards = {s: writer.open(folder, s, INTERACTIONS_SCHEMA, units_column="is_target", assemble=assemble)
              for s in SPLITS}
    counts = {s: {"rows": 0, "targets": 0} for s in SPLITS}
    names: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    streamed = 0
    with frame_batches(ordered, workdir=scratch, batch_rows=_BATCH_ROWS) as batches:
        for batch in batches:
            if not batch.num_rows:
                continue
            chunk, columns = _chunk(batch)
            user_names = batch.column("user_id")
            rows = rule(chunk, batch)
            for split in SPLITS:
                part = rows[split]
                shards[split].append(part.num_rows, partial(_part, user_names, columns, part),
                                     positions=len(part.is_target))
                counts[split]["rows"] += part.num_rows
                counts[split]["targets"] += int(part.is_target.sum())
            names.append(user_names.to_numpy(zero_copy_only=False))  # a copy: the batch is let go
            lengths.append(np.diff(chunk.bounds))
            writer.streamed += chunk.num_rows
            for _ in range((streamed + chunk.num_rows) // CHUNK_ROWS - streamed // CHUNK_ROWS):
                progress.advance("build")
            streamed += chunk.num_rows
    return _Written({s: shards[s].close() for s in SPLITS}, counts,
                    np.concatenate(names) if names else np.zeros(0, object),
                    np.concatenate(lengths) if lengths else np.zeros(0, np.int64))


def _chunk(batch: pa.RecordBatch) -> tuple[Chunk, ChunkColumns]:
    """A batch of users' sequences as the local engine's chunk (its items as codes into the
    batch's distinct items), and its columns kept compact until their row groups are written."""
    lists = batch.column("ts")
    bounds = np.r_[0, np.cumsum(pc.list_value_length(lists).to_numpy(zero_copy_only=False))].astype(np.int64)
    flat = {name: batch.column(name).flatten() for name in POSITION_COLUMNS}
    items = pc.dictionary_encode(flat.pop("item"))
    table = pa.Table.from_pydict({"item": items.indices, **flat})
    chunk = Chunk(table, 0, bounds)
    return chunk, ChunkColumns(chunk, items.dictionary)


def _part(names: pa.Array, columns: ChunkColumns, rows: SplitRows, start: int, stop: int) -> SplitPart:
    """Rows ``start:stop`` of a batch's split (made when their row group is written)."""
    return SplitPart(names, columns, rows.rows(start, stop))


def _item_names(rows: DataFrame, scratch: Path) -> set[str]:
    """The items the kept interactions use, as the dataset names them."""
    from timgen_data.spark.store_tables import frame_batches

    items: set[str] = set()
    with frame_batches(rows.select("item").distinct(), workdir=scratch) as batches:
        for batch in batches:
            items.update(batch.column(0).to_pylist())
    return items


def _tally(rows: DataFrame) -> DatasetTally:
    """The running totals the local engine gathers chunk by chunk, from Spark aggregates (small:
    one row per action, class and month)."""
    from pyspark.sql import functions as F

    tally = DatasetTally()
    # Months since 1970-01 (UTC), as numpy's datetime64[M] counts them: days floor-divided first.
    day = F.expr("date_from_unix_date(CAST(floor(ts / 86400) AS INT))")
    frame = rows.select("action", "class", ((F.year(day) - 1970) * 12 + F.month(day) - 1).alias("month"), "score",
                        "ts", F.struct(*USER_ORDER, "ts", *ITEM_ORDER, "action").alias("position"))
    # One job: a row per action, per class, per month, and one of totals (grouped by nothing).
    sets = [[F.col("action")], [F.col("class")], [F.col("month")], []]
    totals = frame.groupingSets(sets, "action", "class", "month").agg(
        F.grouping_id().alias("set"), F.count("*").alias("n"), F.min("position").alias("at"),
        F.min("score").alias("low"), F.max("score").alias("high"), F.min("ts").alias("first"),
        F.max("ts").alias("last"))
    # grouping_id's bits say which of action, class, month a row is not grouped by.
    kinds = {0b011: "action", 0b101: "class", 0b110: "month", 0b111: "total"}
    found: dict[str, list] = {kind: [] for kind in kinds.values()}
    for row in totals.collect():
        found[kinds[row["set"]]].append(row)
    whole = found["total"][0]
    tally.interactions = int(whole["n"])
    if whole["low"] is not None:
        tally.scores = [whole["low"], whole["high"]]
    tally.time_span = [int(whole["first"]), int(whole["last"])]
    tally.actions = {row["action"]: int(row["n"]) for row in found["action"]}
    # Classes in the order they first appear in the dataset: stats.png ranks ties so.
    tally.classes = {row["class"]: int(row["n"]) for row in sorted(found["class"], key=lambda row: row["at"])}
    tally.months = {int(row["month"]): int(row["n"]) for row in sorted(found["month"], key=lambda row: row["month"])}
    return tally

