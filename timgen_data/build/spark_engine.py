"""``build --engine spark``: the same dataset as :func:`timgen_data.build.dataset.build_dataset`, made by Spark.

Spark reads the store's tables (:func:`timgen_data.spark.store_frames`: one snapshot) and
does the work that grows with the corpus: the label join, the sources' counts, the
filters (:mod:`~timgen_data.build.spark_selection`), each user's sorted sequence and its
split rows (:mod:`~timgen_data.build.spark_splits`), and the statistics' totals. The
driver then streams the split rows, in the dataset's order, into the same Parquet shards
the local engine writes (:class:`~timgen_data.build.shards.ShardWriter`: same rows, row
groups and file names), and writes the rest of the contract (items, users, card,
``build.json``, ``stats.png``) through the same code
(:func:`~timgen_data.build.dataset.write_contract`). For a fixed store both engines write
the same bytes.

The driver holds one batch of rows at a time, plus one number and one name per user and
the names of the items used (as the local engine does); it never collects a table.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.build.dataset import (
    CHUNK_ROWS,
    BuildOptions,
    BuildResult,
    output_folder,
    source_rows_of,
    write_contract,
    write_staged,
)
from timgen_data.build.shards import ShardWriter
from timgen_data.build.sources import check_sources
from timgen_data.build.spark_selection import ITEM_ORDER, USER_ORDER, select_rows
from timgen_data.build.spark_splits import (
    ORDER_KEYS,
    GivenSplit,
    LeaveLastOut,
    SparkSplit,
    TimeSplit,
    split_rows,
    with_given_splits,
)
from timgen_data.build.splits import SPLITS, check_time_cuts
from timgen_data.build.statistics import DatasetTally
from timgen_data.build.tables import INTERACTIONS_SCHEMA
from timgen_data.output_folder import Protected
from timgen_data.progress import SILENT, Progress
from timgen_data.store import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_TABLES = ("interactions", "labels", "users", "items")
# Rows (a user's split row each) per batch the driver reads back.
_BATCH_ROWS = 4_096
# Interactions per range of users whose sequences a task makes (about; a range holds whole users).
_PARTITION_ROWS = 250_000


def build_dataset_spark(
    spark: SparkSession, store: Store, out_dir: Path, options: BuildOptions = BuildOptions(), *,
    progress: Progress = SILENT, force: bool = False, protect: Iterable[Protected] | None = None,
    workdir: Path | None = None,
) -> BuildResult:
    """:func:`timgen_data.build.dataset.build_dataset` with Spark: the same folder rules,
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
        rule = _split_rule(options)
        rows = with_given_splits(spark, selection.rows, str(options.split_file)) if rule.given else selection.rows
        # Steps: the selection, each chunk of interactions, the items and users, the swap.
        progress.start("build", total=-(-selection.num_interactions // CHUNK_ROWS) + 3)
        progress.advance("build")
        tally = _tally(selection.rows)
        items = _item_names(selection.rows, scratch)
        writer = ShardWriter(selection.num_interactions, other_rows=len(items) + selection.num_users)

        def write(staging: Path):
            ordered = split_rows(rows, rule, _partitions(spark, selection.num_interactions))
            written = _write_interactions(staging / "interactions", writer, ordered, scratch, progress)
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


def _split_rule(options: BuildOptions) -> SparkSplit:
    if options.split == "time":
        return TimeSplit(int(options.valid_start), int(options.test_start))
    if options.split == "given":
        return GivenSplit()
    return LeaveLastOut()


@dataclass(frozen=True)
class _Written:
    shards: dict[str, list[str]]  # per split, its files relative to the dataset
    counts: dict[str, dict[str, int]]  # per split, its rows and target positions
    user_names: np.ndarray  # the users in the dataset's order
    lengths: np.ndarray  # their interactions


def _write_interactions(folder: Path, writer: ShardWriter, ordered: DataFrame, scratch: Path,
                        progress: Progress) -> _Written:
    """Stream the split rows, in the dataset's order (partition by partition), into the three splits' shards."""
    from timgen_data.spark.store_tables import frame_batches

    shards = {s: writer.open(folder, s, INTERACTIONS_SCHEMA, units_column="is_target") for s in SPLITS}
    counts = {s: {"rows": 0, "targets": 0} for s in SPLITS}
    names: list[pa.Array] = []
    lengths: list[np.ndarray] = []
    streamed = 0
    with frame_batches(ordered.drop(*ORDER_KEYS), workdir=scratch, batch_rows=_BATCH_ROWS) as batches:
        for batch in batches:
            table = pa.Table.from_batches([batch])
            first = table.filter(table.column("first"))
            names.append(first.column("user_id").combine_chunks())
            lengths.append(first.column("n").to_numpy().astype(np.int64))
            split = table.column("split")
            contract = table.select(INTERACTIONS_SCHEMA.names).cast(INTERACTIONS_SCHEMA)
            for code, name in enumerate(SPLITS):
                part = contract.filter(pc.equal(split, code))
                if not part.num_rows:
                    continue
                targets = part.column("is_target")
                shards[name].append(part.num_rows, lambda start, stop, part=part: part.slice(start, stop - start),
                                    positions=int(pc.sum(pc.list_value_length(targets)).as_py() or 0))
                counts[name]["rows"] += part.num_rows
                counts[name]["targets"] += int(pc.sum(pc.list_flatten(targets)).as_py() or 0)
            done = int(lengths[-1].sum())
            writer.streamed += done
            for _ in range((streamed + done) // CHUNK_ROWS - streamed // CHUNK_ROWS):
                progress.advance("build")
            streamed += done
    user_names = pa.concat_arrays(names) if names else pa.array([], pa.string())
    return _Written({s: shards[s].close() for s in SPLITS}, counts, user_names.to_numpy(zero_copy_only=False),
                    np.concatenate(lengths) if lengths else np.zeros(0, np.int64))


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

