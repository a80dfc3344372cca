"""Per-user sequences and the three splits' rows, in Spark.

The Spark counterpart of :mod:`timgen_data.build.sequences` and
:mod:`timgen_data.build.splits`: each user's interactions are gathered into one sorted
array by (ts, item in natural order, action), the order the local engine streams them in,
and every rule cuts that array into the splits' rows exactly as the local functions do:
a row is a prefix of the user's history, ``is_target`` marks its evaluated positions,
and an empty row is no row. What comes out is one row per user and split, in the
dataset's order (users in natural order, then train, validation, test), with the
``interactions`` columns of the contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from timgen_data.build.spark_selection import ITEM_ORDER, USER_ORDER
from timgen_data.build.split_file import (
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
_POSITION = ("ts", *ITEM_ORDER, "action", "item", "device", "platform", "geo", "value", "text", "score", "class")
# The contract's list columns from a row's positions (``p``), as the local engine writes them:
# floats as float32, a missing value NaN, a missing class "".
_LISTS = {
    "item_ids": "p.item", "timestamps": "p.ts", "actions": "p.action", "devices": "p.device",
    "platforms": "p.platform", "geos": "p.geo", "scores": "CAST(p.score AS FLOAT)",
    "classes": "coalesce(p.`class`, '')", "values": "CAST(coalesce(p.`value`, double('NaN')) AS FLOAT)",
    "texts": "p.text",
}
# The user's order keys as split_rows names them (its ``user_id`` is the dataset's), and the
# rows' order: ``split`` is the index in timgen_data.build.splits.SPLITS.
ORDER_KEYS = tuple(f"order_{key}" for key in USER_ORDER)
SPLIT_ORDER = (*ORDER_KEYS, "split")


class SparkSplit:
    """How a user's sorted positions (``s``, ``n`` of them) are cut into rows: per split, where
    its row ends (``end``, 0 for none) and which of its positions are targets."""

    given = False

    def ends(self) -> tuple[str, str, str]:
        raise NotImplementedError

    def targets(self) -> str:
        """``is_target`` of a row of split ``split`` ending at ``end``."""
        raise NotImplementedError


class LeaveLastOut(SparkSplit):
    """As :func:`timgen_data.build.splits.leave_last_out`."""

    def ends(self):
        return "IF(n >= 3, n - 2, n)", "IF(n >= 3, n - 1, 0)", "IF(n >= 3, n, 0)"

    def targets(self):
        return "IF(split = 0, array_repeat(true, `end`), transform(array_repeat(false, `end`), (x, i) -> i = `end` - 1))"


@dataclass(frozen=True)
class TimeSplit(SparkSplit):
    """As :func:`timgen_data.build.splits.time_split`."""

    valid_start: int
    test_start: int

    def ends(self):
        before_valid = f"size(filter(s, x -> x.ts < {int(self.valid_start)}))"
        before_test = f"size(filter(s, x -> x.ts < {int(self.test_start)}))"
        return before_valid, f"IF({before_test} > {before_valid}, {before_test}, 0)", f"IF(n > {before_test}, n, 0)"

    def targets(self):
        return (f"CASE split WHEN 0 THEN array_repeat(true, `end`) "
                f"WHEN 1 THEN transform(slice(s, 1, `end`), x -> x.ts >= {int(self.valid_start)}) "
                f"ELSE transform(slice(s, 1, `end`), x -> x.ts >= {int(self.test_start)}) END")


class GivenSplit(SparkSplit):
    """As :func:`timgen_data.build.splits.given_split`: each position's split (``given``) from the file."""

    given = True

    def ends(self):
        def end(code: int) -> str:
            from_end = f"array_position(reverse(transform(s, x -> x.given)), {code})"
            return f"IF({from_end} > 0, n - {from_end} + 1, 0)"

        return end(0), end(1), end(2)

    def targets(self):
        return "transform(slice(s, 1, `end`), x -> x.given = split)"


def split_rows(rows: DataFrame, rule: SparkSplit, partitions: int) -> DataFrame:
    """One row per user and split of ``rows`` (:data:`timgen_data.build.spark_selection.ROW_COLUMNS`,
    plus ``given`` for a :class:`GivenSplit`), in the dataset's order over ``partitions``
    partitions: ``split``, ``first`` (the user's first row), ``n`` (the user's interactions),
    the contract's ``interactions`` columns and the user's order (:data:`ORDER_KEYS`)."""
    from pyspark.sql import functions as F

    fields = [*_POSITION, *(("given",) if rule.given else ())]
    # One shuffle: the rows go to ranges of users in order, where each user's are gathered and
    # the users' rows sorted; the partitions in turn are then the dataset in order.
    sequences = rows.repartitionByRange(partitions, *USER_ORDER).groupBy(*USER_ORDER, "user").agg(
        F.sort_array(F.collect_list(F.struct(*fields))).alias("s")).withColumn("n", F.size("s"))
    train, validation, test = rule.ends()
    parts = F.expr(f"filter(array(named_struct('split', 0, 'end', {train}), named_struct('split', 1, 'end', "
                   f"{validation}), named_struct('split', 2, 'end', {test})), p -> p.`end` > 0)")
    cut = sequences.select(*USER_ORDER, "user", "s", "n", F.posexplode(parts).alias("row", "part")).select(
        *USER_ORDER, "user", "s", "n", F.col("part.split").alias("split"), (F.col("row") == 0).alias("first"),
        F.col("part.end").alias("end"))
    return cut.select(
        *(F.col(key).alias(name) for key, name in zip(USER_ORDER, ORDER_KEYS)), "split", "first", "n", F.col("user").alias("user_id"),
        *(F.expr(f"transform(slice(s, 1, `end`), p -> {value})").alias(name) for name, value in _LISTS.items()),
        F.expr(rule.targets()).alias("is_target")).sortWithinPartitions(*SPLIT_ORDER)


def with_given_splits(spark: SparkSession, rows: DataFrame, path: str) -> DataFrame:
    """``rows`` with each interaction's ``given`` split code from the split file at ``path``
    (read by Spark: a path every executor sees); a one-line error when the file is unusable
    or lacks an interaction, as :class:`timgen_data.build.split_file.SplitFile` says it."""
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
