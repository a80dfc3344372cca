"""``label --engine spark``: the same labels as ``label``, computed by Spark over the whole store.

The formulas are those of ``scenarios.py`` written as Spark expressions, step for step, so
that every score is the same float to the bit:

- a session starts at a user's first interaction (of the scenario's actions, in time then
  id order) and after every gap longer than ``session_gap`` (a window over the user);
- ``has_<action>`` is 1.0 when the (user, item, session) group had that action at or before
  the row's time (a window max over the rows up to the row's second, ties included);
- scores add their terms in the order the local formulas write them;
- a video's watched seconds are the group's view seconds up to the row's second, a running
  window sum over the rows in time then id order (one term after the other, as the local
  engine adds them), read at the last row of the row's second; its length the largest view
  duration up to the row's second.

The run's bookkeeping is ``run.py``'s: the same incremental choice of users, the same
"writing" note in the first transaction that writes labels, the same cursor when done. The
labels leave Spark as Parquet files and go into the store a transaction per chunk, so the
driver holds one chunk at a time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from timgen_data.labeling.run import CHUNK_ROWS, LABEL_COLUMNS, LABEL_KEY, LabelReport, finish_run, note_writing, start_run
from timgen_data.labeling.scenarios import ECOMMERCE_ACTIONS, LABELLED_ACTIONS, VIDEO_ACTIONS
from timgen_data.labeling.weights import EcommerceWeights, ScoreWeights, VideoWeights
from timgen_common.progress import SILENT, Progress
from timgen_data.spark.store_tables import store_frames, write_store_rows
from timgen_data.store import Store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_GROUP = ["user_id", "item_id", "session"]


def label_store_spark(spark: SparkSession, store: Store, scenario: str, weights: ScoreWeights | None = None, *,
                      workdir: Path, progress: Progress = SILENT, jdbc: bool | None = None) -> LabelReport:
    """Compute and store ``scenario`` labels with Spark; the result equals :func:`label_store`'s.

    ``workdir`` holds the store's snapshot and the labels on their way back (see
    ``timgen_data.spark.store_tables``); ``jdbc`` chooses how a PostgreSQL store is read.

    >>> label_store_spark(spark_session(), store, "movie", workdir=tmp).labeled  # doctest: +SKIP
    100000
    """
    weights, report = start_run(store, scenario, weights)
    task = f"label {scenario}"
    progress.start(task, total=None, unit="rows")
    tables = ["interactions", "items"] + ([] if report.recomputed_all else ["labels"])
    with store_frames(spark, store, tables, workdir=workdir, jdbc=jdbc) as frames:
        interactions = frames["interactions"]
        if not report.recomputed_all:
            interactions = _pending_users_only(interactions, frames["labels"], scenario)
        report.considered = interactions.count()
        labels = spark_labels(scenario, interactions, frames["items"], weights)

        def note(conn) -> None:
            note_writing(conn, scenario, weights)

        report.labeled = write_store_rows(store, labels, "labels", conflict=LABEL_KEY, update=["score", "class"],
                                          workdir=workdir, batch_rows=CHUNK_ROWS, before_first=note,
                                          progress=progress, task=task)
    progress.finish(task)
    return finish_run(store, report, weights)


def _pending_users_only(interactions: DataFrame, labels: DataFrame, scenario: str) -> DataFrame:
    """The interactions of users with an interaction ``scenario`` labels but has not labelled yet."""
    from pyspark.sql import functions as F

    done = labels.where(F.col("scenario") == scenario).select(F.col("interaction_id").alias("id"))
    pending = (interactions.where(F.col("action").isin(*LABELLED_ACTIONS[scenario]))
               .join(done, "id", "left_anti").select("user_id").distinct())
    return interactions.join(pending, "user_id", "left_semi")


def spark_labels(scenario: str, interactions: DataFrame, items: DataFrame, weights: ScoreWeights) -> DataFrame:
    """The labels table's rows (``interaction_id, scenario, score, class``) for ``interactions``.

    A score the formula leaves undefined (a rating without a value) is NaN, as the local engine writes it.
    """
    from pyspark.sql import functions as F

    categories = items.select(F.col("id").alias("item_id"), "category")
    frame = interactions.where(F.col("action").isin(*LABELLED_ACTIONS[scenario])).join(categories, "item_id", "left")
    if scenario == "movie":
        scored = frame.withColumn("score", F.col("value"))
    elif scenario == "ecommerce":
        scored = _ecommerce(frame, weights.ecommerce)
    else:
        scored = _video(frame, weights.video)
    return scored.select(F.col("id").alias("interaction_id"), F.lit(scenario).alias("scenario"),
                         F.coalesce(F.col("score").cast("double"), F.lit(float("nan"))).alias("score"),
                         F.col("category").alias("class"))[LABEL_COLUMNS]


def _with_sessions(frame: DataFrame, gap: int, actions: tuple[str, ...]) -> DataFrame:
    """``frame`` with its session number per user and a causal ``has_<action>`` column per action."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    in_time = Window.partitionBy("user_id").orderBy("ts", "id")
    previous = F.lag("ts").over(in_time)
    starts = (previous.isNull() | ((F.col("ts") - previous) > gap)).cast("long")
    frame = frame.withColumn("starts", starts).withColumn(
        "session", F.sum("starts").over(in_time.rowsBetween(Window.unboundedPreceding, Window.currentRow)))
    for action in actions:
        frame = frame.withColumn(f"has_{action}", F.max((F.col("action") == action).cast("double")).over(_so_far()))
    return frame


def _so_far():
    """A group's rows at or before the row's time, those of the same second included."""
    from pyspark.sql import Window

    return Window.partitionBy(*_GROUP).orderBy("ts").rangeBetween(Window.unboundedPreceding, Window.currentRow)


def _ecommerce(frame: DataFrame, weights: EcommerceWeights) -> DataFrame:
    from pyspark.sql import functions as F

    grouped = _with_sessions(frame, weights.session_gap, ECOMMERCE_ACTIONS)
    score = (F.lit(weights.alpha) * F.col("has_click") + F.lit(weights.beta) * F.col("has_cart")
             + F.lit(weights.gamma) * F.col("has_purchase") + F.lit(weights.delta) * F.col("has_comment"))
    return grouped.withColumn("score", score)


def _video(frame: DataFrame, weights: VideoWeights) -> DataFrame:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    grouped = _with_sessions(frame, weights.session_gap, VIDEO_ACTIONS)
    views = F.col("action") == "view"
    seconds = F.when(views, F.coalesce(F.col("value"), F.lit(0.0))).otherwise(F.lit(0.0))
    # A rows frame in (ts, id) order adds one term after the other; the rows of one second
    # then all take the sum at the last of them (the one with the largest id).
    in_order = Window.partitionBy(*_GROUP).orderBy("ts", "id").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    grouped = grouped.withColumn("running", F.sum(seconds).over(in_order))
    same_second = Window.partitionBy(*_GROUP, "ts")
    grouped = grouped.withColumn("watched", F.max_by("running", "id").over(same_second))
    grouped = grouped.withColumn("length", F.max(F.when(views, F.col("duration"))).over(_so_far()))
    ratio = F.when(F.col("length").isNotNull() & (F.col("length") != 0), F.col("watched") / F.col("length"))
    fraction = F.greatest(F.lit(0.0), F.least(F.coalesce(ratio, F.lit(0.0)), F.lit(1.0)))
    score = (F.lit(weights.lambda1) * fraction + F.lit(weights.lambda2) * F.col("has_like")
             + F.lit(weights.lambda3) * F.col("has_comment") + F.lit(weights.lambda4) * F.col("has_share"))
    return grouped.withColumn("score", score)
