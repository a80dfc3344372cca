"""``label --engine spark`` gives the local engine's labels, to the bit, with the same run bookkeeping."""

from __future__ import annotations

import pytest
from support.event_logs import BINGE, WEIGHTS, add_events, event_log

import timgen_data.labeling.spark_engine as spark_engine
import timgen_data.spark.store_tables as store_tables
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.errors import NothingToDoError
from timgen_data.labeling import label_store
from timgen_data.labeling.spark_engine import label_store_spark
from timgen_data.store import fetch_rows, label_run_unfinished


# Events of one second, stored in both orders (ids): each step sees the whole second.
SAME_SECOND = [("tie", "p1", 50, "view", 10.1, 60.0), ("tie", "p1", 50, "like", None, None),
               ("tie", "p1", 50, "click", None, None), ("tie", "p1", 50, "cart", None, None),
               ("tie", "p2", 70, "like", None, None), ("tie", "p2", 70, "view", 33.3, 47.3),
               ("tie", "p2", 70, "purchase", None, None), ("tie", "p2", 70, "click", None, None),
               ("tie", "p2", 75, "view", 0.7, 60.0), ("tie", "p2", 75, "share", None, None)]


def stored_labels(store, scenario: str) -> dict[int, tuple[float, str | None]]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT interaction_id, score, class FROM labels WHERE scenario = :s", {"s": scenario})
    return {int(i): (float(s), c) for i, s, c in rows}


def forget_labels(store) -> None:
    with store.begin() as conn:
        conn.exec_driver_sql("DELETE FROM labels")
        conn.exec_driver_sql("DELETE FROM collection_state WHERE collector = 'label'")


def local_then_spark(store, spark, workdir, scenario, weights=WEIGHTS):
    """Both engines' labels and reports, each run on the store without labels."""
    local_report = label_store(store, scenario, weights)
    local = stored_labels(store, scenario)
    forget_labels(store)
    spark_report = label_store_spark(spark, store, scenario, weights, workdir=workdir)
    return local, local_report, stored_labels(store, scenario), spark_report


@pytest.mark.parametrize("scenario", ["ecommerce", "video", "movie"])
def test_spark_labels_equal_local_labels_for_every_action(store, spark, workdir, scenario):
    add_events(store, event_log(range(15), seed=3) + BINGE + SAME_SECOND)
    local, local_report, labels, report = local_then_spark(store, spark, workdir, scenario)
    assert len({cls for _, cls in local.values()}) > 2 and len(local) > 20  # the log exercises the formula
    assert labels == local  # exact: every float to the bit
    assert (report.labeled, report.considered, report.classes, report.score_min, report.score_max) == (
        local_report.labeled, local_report.considered, local_report.classes, local_report.score_min,
        local_report.score_max)
    assert list(workdir.iterdir()) == []
    with store.begin() as conn:  # ``build`` reads the cursor: the run is noted as done with these weights
        assert not label_run_unfinished(conn, scenario)
    assert label_store(store, scenario, WEIGHTS).labeled == 0  # the local engine finds nothing left to do


def test_spark_movie_labels_equal_local_labels_on_movielens_100k(sqlite_store, spark, workdir, tmp_path, shared_data):
    store = sqlite_store  # collecting 100,000 ratings into PostgreSQL is slow; the logs above cover it
    collect_movielens(store, "100k", data_dir=tmp_path / "data", from_file=shared_data / "ml-100k")
    local, local_report, labels, report = local_then_spark(store, spark, workdir, "movie")
    assert len(labels) == report.labeled == local_report.labeled == 100_000
    assert labels == local


def test_incremental_spark_run_labels_only_users_with_new_interactions(store, spark, workdir):
    add_events(store, event_log(range(8), seed=5))
    label_store_spark(spark, store, "video", WEIGHTS, workdir=workdir)
    add_events(store, event_log(range(6, 12), seed=6, start=10_000))  # users 6, 7 get more; 8–11 are new
    report = label_store_spark(spark, store, "video", WEIGHTS, workdir=workdir)
    assert not report.recomputed_all
    with store.begin() as conn:
        [(pending,)] = fetch_rows(conn, "SELECT COUNT(*) FROM interactions i JOIN users u ON u.id = i.user_id "
                                        "WHERE u.external_id IN ('u6','u7','u8','u9','u10','u11')")
    assert report.considered == pending
    spark_labels = stored_labels(store, "video")
    forget_labels(store)
    label_store(store, "video", WEIGHTS)
    assert spark_labels == stored_labels(store, "video")


def test_a_run_killed_while_writing_is_redone_whole_by_the_next(store, spark, workdir, monkeypatch):
    add_events(store, event_log(range(10), seed=7))
    label_store(store, "ecommerce", WEIGHTS)
    expected = stored_labels(store, "ecommerce")
    other = WEIGHTS.model_copy(update={"ecommerce": WEIGHTS.ecommerce.model_copy(update={"gamma": 9.0})})
    monkeypatch.setattr(spark_engine, "CHUNK_ROWS", 7)  # labels go back in many transactions
    upsert, calls = store_tables.upsert_rows, []

    def dies_on_the_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return upsert(*args, **kwargs)

    monkeypatch.setattr(store_tables, "upsert_rows", dies_on_the_third)
    with pytest.raises(KeyboardInterrupt):
        label_store_spark(spark, store, "ecommerce", other, workdir=workdir)
    with store.begin() as conn:
        assert label_run_unfinished(conn, "ecommerce")  # labels of two weights are mixed now
    assert stored_labels(store, "ecommerce") != expected
    monkeypatch.setattr(store_tables, "upsert_rows", upsert)
    report = label_store_spark(spark, store, "ecommerce", WEIGHTS, workdir=workdir)
    assert report.recompute_reason == "an earlier run stopped before it finished"
    assert stored_labels(store, "ecommerce") == expected
    assert list(workdir.iterdir()) == []


def test_a_store_without_matching_actions_has_nothing_to_label(sqlite_store, spark, workdir):
    add_events(sqlite_store, event_log(range(3), seed=8, actions=("rate",)))
    with pytest.raises(NothingToDoError, match="click/cart/purchase/comment"):
        label_store_spark(spark, sqlite_store, "ecommerce", WEIGHTS, workdir=workdir)
