"""What a Spark build keeps: the sources, the labelled interactions of the users and items kept, their order.

The Spark counterpart of :mod:`timgen_data.dataset.selection`, with the same answers: the
sources with a score for the scenario (and what each leaves out), ``--min-interactions``
on the users, the k-core iterated on the (user, item) pairs until no user or item falls
below k (at most as many rounds as :func:`timgen_data.dataset.filters.k_core_of`), and the
*natural* order of users and items (:func:`timgen_data.dataset.sequences.natural_order`):
numeric ids as numbers when every labelled id is one, else as text. The order is a sort
key per row (no rank is numbered), ties between equal numbers broken by the surrogate id,
as the local engine's codes break them. Nothing is collected to the driver but counts per
source and one row of flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from timgen_data.dataset.sources import ChosenSources, labelled_sources
from timgen_data.errors import NothingToDoError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

# As timgen_data.dataset.sequences.natural_order: a character no number has makes every id text;
# all digits (fitting an int64) are integers; anything else is a number where pandas parses it.
_NOT_A_NUMBER = r"[^0-9\s.+\-eEinfatyINFATY]"
_DIGITS = r"^[0-9]{1,18}$"
_MAX_ROUNDS = 100  # as k_core_of


@dataclass(frozen=True)
class SparkSelection:
    """The kept interactions (:data:`ROW_COLUMNS`), with what the contract says about them."""

    chosen: ChosenSources
    rows: DataFrame
    num_users: int
    num_interactions: int


# The columns of SparkSelection.rows: user and item as named in the dataset, each with its
# order key (``*_num``: a number, ``*_text``: the id as text, ``*_id``: the surrogate id breaking ties).
ROW_COLUMNS = ("user_id", "user", "user_num", "user_real", "user_text", "item_id", "item", "item_num", "item_real",
               "item_text", "ts", "action", "device", "platform", "geo", "value", "text", "score", "class",
               "utc_offset")
USER_ORDER = ("user_num", "user_real", "user_text", "user_id")
ITEM_ORDER = ("item_num", "item_real", "item_text", "item_id")


def select_rows(frames: dict[str, DataFrame], scenario: str, sources: list[str], *, requested: bool,
                min_interactions: int, k_core: int) -> SparkSelection:
    """The labelled interactions of ``sources`` a build keeps; ``frames``: the store's
    ``interactions``, ``labels``, ``users`` and ``items``; ``requested``: the user named the sources.

    The returned rows are persisted: ``unpersist`` them when done.
    """
    from pyspark.sql import functions as F

    users = frames["users"].where(F.col("source").isin(sources)).select(
        F.col("id").alias("user_id"), F.col("source").alias("user_source"), F.col("external_id").alias("user_ext"))
    items = frames["items"].where(F.col("source").isin(sources)).select(
        F.col("id").alias("item_id"), F.col("source").alias("item_source"), F.col("external_id").alias("item_ext"))
    interactions = frames["interactions"].select("id", "user_id", "item_id", "ts", "action", "device", "platform",
                                                 "geo", "value", "text", "utc_offset")
    labels = frames["labels"].where((F.col("scenario") == scenario) & F.col("score").isNotNull()).select(
        F.col("interaction_id").alias("id"), "score", "class")
    # One pass counts, per source, the interactions and those with a score (and an item of the sources read).
    every = interactions.join(users, "user_id").join(labels, "id", "left").join(items, "item_id", "left").persist()
    scored = F.col("score").isNotNull() & F.col("item_source").isNotNull()
    counts = every.groupBy("user_source").agg(F.count("*").alias("total"), F.count(F.when(scored, 1)).alias("scored"))
    totals, labelled_counts = {}, {}
    for row in counts.collect():  # a row per source
        totals[row["user_source"]] = int(row["total"])
        if row["scored"]:
            labelled_counts[row["user_source"]] = int(row["scored"])
    labelled = every.where(scored)
    try:
        chosen = labelled_sources(sources, scenario, totals, labelled_counts, requested=requested)
        named = _with_order_keys(labelled, chosen.prefixed)
        counts, alive_items = _filtered(named.select("user_id", "item_id"), k_core)
        kept_users = counts.where(F.col("n") >= max(min_interactions, 1))
        totals_kept = kept_users.agg(F.count("*").alias("users"), F.sum("n").alias("interactions")).first()
        if not totals_kept["users"]:
            raise NothingToDoError("no user is left after the filters; lower --min-interactions or --k-core")
        rows = named.join(kept_users.select("user_id"), "user_id", "left_semi")
        if alive_items is not None:
            rows = rows.join(alive_items, "item_id", "left_semi")
        rows = rows.select(*ROW_COLUMNS).persist()
        rows.count()  # computed now, while the join is still at hand
    finally:
        every.unpersist()
    return SparkSelection(chosen, rows, int(totals_kept["users"]), int(totals_kept["interactions"]))


def _with_order_keys(labelled: DataFrame, prefixed: bool) -> DataFrame:
    """The labelled rows with the dataset's names of user and item and their natural-order keys;
    the context columns a source may not give as "" (as the dataset writes them)."""
    from pyspark.sql import functions as F

    def name(kind: str) -> Column:
        if prefixed:  # ids are unique only within a source
            return F.concat(F.col(f"{kind}_source"), F.lit(":"), F.col(f"{kind}_ext"))
        return F.col(f"{kind}_ext")

    frame = labelled.select(
        "user_id", name("user").alias("user"), "item_id", name("item").alias("item"), "ts", "action",
        *(F.coalesce(F.col(c), F.lit("")).alias(c) for c in ("device", "platform", "geo")), "value",
        F.coalesce(F.col("text"), F.lit("")).alias("text"), "score", "class", "utc_offset")
    for kind in ("user", "item"):
        frame = frame.select("*", *_natural_key(frame, kind))
    return frame


def _natural_key(frame: DataFrame, kind: str) -> list[Column]:
    """``<kind>_num`` (int64), ``<kind>_real`` (double) and ``<kind>_text``: one of them set, by
    the rule of :func:`timgen_data.dataset.sequences.natural_order` over every id of ``kind`` present."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    name = F.col(kind)
    flags = frame.select(kind).distinct().agg(
        F.max(name.rlike(_NOT_A_NUMBER).cast("int")).alias("text"),
        F.min(name.rlike(_DIGITS).cast("int")).alias("digits")).first()
    none_long, none_double = F.lit(None).cast(T.LongType()), F.lit(None).cast(T.DoubleType())
    none_text = F.lit(None).cast(T.StringType())
    as_text = [none_long.alias(f"{kind}_num"), none_double.alias(f"{kind}_real"), name.alias(f"{kind}_text")]
    if flags["text"]:
        return as_text
    if flags["digits"]:
        return [name.cast(T.LongType()).alias(f"{kind}_num"), none_double.alias(f"{kind}_real"),
                none_text.alias(f"{kind}_text")]
    # Signs, points, exponents, spaces: as pandas reads them, and text if one is no number.
    number = _pandas_number()(name)
    if frame.select(kind).distinct().where(number.isNull()).limit(1).count():
        return as_text
    return [none_long.alias(f"{kind}_num"), number.alias(f"{kind}_real"), none_text.alias(f"{kind}_text")]


def _pandas_number():
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("double")
    def number(ids):
        import pandas as pd

        return pd.to_numeric(ids, errors="coerce").astype("float64")

    return number


def _filtered(pairs: DataFrame, k: int) -> tuple[DataFrame, DataFrame | None]:
    """Interactions per user (``user_id``, ``n``) after the k-core of ``pairs``, and the items
    still alive (None without a k-core: every item is). Each round drops the users and items
    with fewer than ``k`` interactions among the pairs left, until none has."""
    from pyspark.sql import functions as F

    if k <= 1:
        return pairs.groupBy("user_id").agg(F.count("*").alias("n")), None
    pairs = pairs.localCheckpoint()
    for _ in range(_MAX_ROUNDS):
        few_users = pairs.groupBy("user_id").count().where(F.col("count") < k).select("user_id")
        few_items = pairs.groupBy("item_id").count().where(F.col("count") < k).select("item_id")
        if few_users.isEmpty() and few_items.isEmpty():
            break
        # Checkpointed: each round's plan starts from the last round's pairs, not from the store.
        pairs = pairs.join(few_users, "user_id", "left_anti").join(few_items, "item_id", "left_anti").localCheckpoint()
    return pairs.groupBy("user_id").agg(F.count("*").alias("n")), pairs.select("item_id").distinct()
