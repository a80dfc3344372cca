"""Per-user sequences, in Spark, in the dataset's order.

The Spark counterpart of :mod:`timgen_data.dataset.chunks`: each user's interactions are
gathered into one sorted sequence by (ts, item in natural order, action), the order the
local engine streams them in, and the users come out in the dataset's order (natural
order of their names), one row each. The splits are not cut here: the driver cuts each
batch of users with the local rules (:mod:`timgen_data.dataset.splits`), so the three
splits' rows share one copy of a user's sequence, as in the local engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from timgen_data.dataset.spark_selection import ITEM_ORDER, USER_ORDER
from timgen_data.dataset.split_file import (
    SPLIT_NAMES,
    empty_error,
    lacking_rows_error,
    missing_columns_error,
    not_found_error,
    unknown_split_error,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Per position, sorted by its first fields (the interactions of a user are unique on them:
# the store's unique index is (user, item, ts, action)); the rest is carried along.
_SORTED_BY = ("ts", *ITEM_ORDER, "action")
# The columns of a position the driver needs (:data:`timgen_data.dataset.chunks.COLUMNS`'s names).
POSITION_COLUMNS = ("item", "ts", "action", "device", "platform", "geo", "value", "text", "score", "class",
                    "utc_offset")


def user_sequences(rows: DataFrame, partitions: int, *, given: bool = False) -> DataFrame:
    """One row per user of ``rows`` (:data:`timgen_data.dataset.spark_selection.ROW_COLUMNS`, plus
    ``given`` when ``given``), sorted in the dataset's order within each of ``partitions``
    ranges of users, the ranges themselves in order: ``user_id`` (the dataset's name of the
    user) and, per :data:`POSITION_COLUMNS` (and ``given``), the array of the user's values
    in the order of their sorted positions."""
    from pyspark.sql import functions as F

    carried = [*POSITION_COLUMNS, *(("given",) if given else ())]
    fields = [*_SORTED_BY, *(c for c in carried if c not in _SORTED_BY)]
    # One shuffle: the rows go to ranges of users in order, where each user's are gathered and
    # the users sorted; the partitions in turn are then the dataset in order.
    sequences = rows.repartitionByRange(partitions, *USER_ORDER).groupBy(*USER_ORDER, "user").agg(
        F.sort_array(F.collect_list(F.struct(*fields))).alias("s"))
    return sequences.sortWithinPartitions(*USER_ORDER).select(
        F.col("user").alias("user_id"), *(F.col(f"s.`{name}`").alias(name) for name in carried))


def with_given_splits(spark: SparkSession, rows: DataFrame, path: str) -> DataFrame:
    """``rows`` with each interaction's ``given`` split code from the split file at ``path``
    (read by Spark: a path every executor sees); a one-line error when the file is unusable
    or lacks an interaction, as :class:`timgen_data.dataset.split_file.SplitFile` says it."""
    from pyspark.sql import functions as F

    if "://" not in path and not Path(path).is_file():
        raise not_found_error(path)
    raw = spark.read.option("header", True).option("inferSchema", False).csv(path)
    if not raw.columns:
        raise empty_error(path)
    missing = {"user_id", "item_id", "ts", "split"} - set(raw.columns)
    if missing:
        raise missing_columns_error(path, missing)
    names = F.create_map(*(F.lit(x) for pair in SPLIT_NAMES.items() for x in pair))
    read = raw.select("user_id", "item_id", F.expr("try_cast(trim(ts) AS BIGINT)").alias("ts"), "split",
                      names[F.lower(F.trim("split"))].alias("code"), F.monotonically_increasing_id().alias("line"))
    bad = read.where(F.col("code").isNull()).orderBy("line").select("split").first()
    if bad is not None:
        raise unknown_split_error(path, bad["split"])
    # Where a (user, item, ts) appears twice, its first row counts.
    given = read.groupBy("user_id", "item_id", "ts").agg(F.min_by("code", "line").cast("int").alias("given"))
    joined = rows.join(given.withColumnRenamed("user_id", "user").withColumnRenamed("item_id", "item"),
                       ["user", "item", "ts"], "left")
    lacking = joined.where(F.col("given").isNull())
    count = lacking.count()
    if count:
        first = lacking.orderBy(*USER_ORDER, "ts", *ITEM_ORDER, "action").select("user", "item", "ts").first()
        raise lacking_rows_error(path, count, first["user"], first["item"], int(first["ts"]))
    return joined
