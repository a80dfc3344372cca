"""The store's tables as Spark DataFrames (Parquet snapshot and JDBC), and results written back."""

from __future__ import annotations

import pytest
from support.event_logs import add_events, event_log

from timgen_data.errors import UsageError
from timgen_data.spark import spark_schema, store_frames, write_store_rows
from timgen_data.spark.store_tables import jdbc_driver_loaded
from timgen_data.store import fetch_rows, upsert_rows

COLUMNS = ["id", "user_id", "item_id", "ts", "action", "value", "duration", "device", "platform", "geo", "text",
           "source_id", "attributes", "utc_offset"]


class Steps:
    def __init__(self, steps: list[int]):
        self.steps = steps

    def start(self, task, total=None, unit=""):
        self.total = total

    def advance(self, task, amount=1):
        self.steps.append(amount)

    def finish(self, task):
        pass


def stored(store, sql: str) -> list[tuple]:
    with store.begin() as conn:
        return sorted(fetch_rows(conn, sql))


def readers(store, spark) -> list[bool]:
    """The ways this store can be read: a Parquet snapshot always, JDBC on PostgreSQL when its driver is there."""
    return [False, True] if store.dialect == "postgresql" and jdbc_driver_loaded(spark) else [False]


def test_tables_read_with_the_stores_names_types_and_rows(store, spark, workdir):
    work = workdir
    add_events(store, event_log(range(6), seed=1))
    expected = stored(store, f"SELECT {', '.join(COLUMNS)} FROM interactions")
    items = stored(store, "SELECT id, category FROM items")
    for jdbc in readers(store, spark):
        with store_frames(spark, store, ["interactions", "items"], workdir=work, jdbc=jdbc) as frames:
            assert frames["interactions"].schema == spark_schema("interactions")
            assert frames["interactions"].columns == COLUMNS
            assert sorted(tuple(r) for r in frames["interactions"].collect()) == expected
            assert sorted(tuple(r) for r in frames["items"].select("id", "category").collect()) == items
            # Partitioned reads see the whole table once, wherever the users' ids fall.
            assert frames["interactions"].select("user_id").distinct().count() == 6
        assert list(work.iterdir()) == []  # the snapshot's files are gone


def test_every_table_reads_from_one_snapshot_even_while_the_store_changes(store, spark, workdir):
    work = workdir
    add_events(store, event_log(range(3), seed=2))
    for round, jdbc in enumerate(readers(store, spark)):
        with store_frames(spark, store, ["interactions", "users"], workdir=work, jdbc=jdbc) as frames:
            before = frames["interactions"].count()
            add_events(store, event_log(range(3 + 2 * round, 5 + 2 * round), seed=3))  # committed after it began
            assert frames["interactions"].count() == before
            assert frames["users"].count() == 3 + 2 * round
        with store_frames(spark, store, ["interactions"], workdir=work, jdbc=jdbc) as frames:
            assert frames["interactions"].count() > before


def test_an_unknown_table_is_refused(sqlite_store, spark, workdir):
    work = workdir
    with pytest.raises(UsageError, match="no table 'nope'"):
        with store_frames(spark, sqlite_store, ["nope"], workdir=work):
            pass


def test_results_are_written_back_in_batches_with_a_note_before_the_first(store, spark, workdir):
    work = workdir
    add_events(store, event_log(range(4), seed=4))
    notes, steps = [], []
    with store_frames(spark, store, ["interactions"], workdir=work) as frames:
        from pyspark.sql import functions as F

        labels = frames["interactions"].select(F.col("id").alias("interaction_id"), F.lit("test").alias("scenario"),
                                               (F.col("ts") / 2).alias("score"), F.col("action").alias("class"))
        written = write_store_rows(store, labels, "labels", conflict=["interaction_id", "scenario"],
                                   update=["score", "class"], workdir=work, batch_rows=7,
                                   before_first=lambda conn: notes.append(conn), progress=Steps(steps))
    expected = stored(store, "SELECT id, 'test', ts / 2.0, action FROM interactions")
    assert stored(store, "SELECT interaction_id, scenario, score, class FROM labels") == expected
    assert written == len(expected) == sum(steps) and max(steps) <= 7 and len(notes) == 1
    assert list(work.iterdir()) == []


def test_jdbc_insisted_on_without_a_driver_says_how_to_get_one(postgres_store, spark, workdir, monkeypatch):
    store, work = postgres_store, workdir
    import timgen_data.spark.store_tables as store_tables

    monkeypatch.setattr(store_tables, "jdbc_driver_loaded", lambda spark: False)
    with pytest.raises(UsageError, match="libpostgresql-jdbc-java"):
        with store_frames(spark, store, ["interactions"], workdir=work, jdbc=True):
            pass
