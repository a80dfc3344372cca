"""``build --engine spark`` writes the local engine's dataset: the same bytes for the same store and options.

Every file of the dataset folder is compared (the interactions of each split, items,
users, the card, ``build.json``, ``stats.png``), so rows, their order, ``is_target``,
Features, configs and statistics all agree. Stores are built once per module: a Spark
build costs seconds on two cores. ML-100K has numeric ids and many ratings in the same
second; the generated store has every action (some unlabelled by the scenario), two
sources (so ids are prefixed and ordered as text), a context the source gives for some
interactions only, and an item without a class.
"""

from __future__ import annotations

import csv
import hashlib
import random
from pathlib import Path

import pytest
from support.event_logs import WEIGHTS, add_events, event_log

from timgen_data.dataset import BuildOptions, build_dataset, shards
from timgen_data.dataset import spark_engine
from timgen_data.dataset.spark_engine import build_dataset_spark
from timgen_data.errors import NothingToDoError, UsageError
from timgen_data.labeling import label_store
from timgen_data.store import Store, fetch_rows, id_map, upsert_rows


def fill_generated(store: Store) -> None:
    """Source ``shop`` (text ids, every action) and source ``clips`` (numeric ids, devices), labelled for video."""
    add_events(store, event_log(range(30), seed=5))
    clips = [(u[1:], i[1:], ts, a, v, d) for u, i, ts, a, v, d in event_log(range(30, 45), seed=6)]
    with store.begin() as conn:
        upsert_rows(conn, "users", ["source", "external_id", "attributes"],
                    [("clips", u, '{"age": %d}' % int(u)) for u in sorted({e[0] for e in clips})],
                    conflict=["source", "external_id"])
        upsert_rows(conn, "items", ["source", "external_id", "category", "categories", "attributes"],
                    [("clips", i, "Drama", "[]", "{}") for i in sorted({e[1] for e in clips})],
                    conflict=["source", "external_id"])
        users, items = id_map(conn, "users", "clips"), id_map(conn, "items", "clips")
        upsert_rows(conn, "interactions", ["user_id", "item_id", "ts", "action", "value", "duration", "device"],
                    [(users[u], items[i], ts, a, v, d, ["tv", None][ts % 2]) for u, i, ts, a, v, d in clips],
                    conflict=["user_id", "item_id", "ts", "action"])
    label_store(store, "video", WEIGHTS)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Store:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('generated') / 'store.sqlite'}")
    fill_generated(store)
    yield store
    store.dispose()


@pytest.fixture
def tiny(monkeypatch):
    """Shards of 4 rows in row groups of 3, and the split rows read back 5 at a time."""
    monkeypatch.setattr(shards, "ROWS_PER_SHARD", 4)
    monkeypatch.setattr(shards, "ROWS_PER_GROUP", 3)
    monkeypatch.setattr(spark_engine, "_BATCH_ROWS", 5)


def digests(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


def assert_same_dataset(spark, store: Store, options: BuildOptions, tmp_path: Path) -> dict[str, str]:
    local = build_dataset(store, tmp_path / "local", options)
    result = build_dataset_spark(spark, store, tmp_path / "spark", options, workdir=tmp_path)
    expected = digests(tmp_path / "local")
    assert digests(tmp_path / "spark") == expected
    assert result.statistics == local.statistics and result.shards == local.shards
    assert result.left_out == local.left_out
    assert list(tmp_path.glob("timgen-spark-build-*")) == []  # the scratch files are gone
    return expected


def test_ml100k_time_split_with_k_core(spark, ml100k_labelled, tmp_path):
    options = BuildOptions(split="time", valid_start=891_000_000, test_start=892_500_000, k_core=5)
    files = assert_same_dataset(spark, ml100k_labelled, options, tmp_path)
    assert {"interactions/train-00000-of-00001.parquet", "items/train-00000-of-00001.parquet", "README.md",
            "build.json", "stats.png"} <= set(files)


# Batches of 5 rows make this build hundreds of Spark jobs: seconds each on a shared CPU.
@pytest.mark.timeout(900)
def test_generated_leave_last_out_in_tiny_shards_and_batches(spark, generated, tmp_path, tiny):
    files = assert_same_dataset(spark, generated, BuildOptions(scenario="video", min_interactions=4), tmp_path)
    assert len([f for f in files if f.startswith("interactions/train-")]) > 3


def test_generated_given_split_and_its_errors(spark, generated, tmp_path):
    with generated.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.source, u.external_id, it.source, it.external_id, i.ts FROM interactions i "
                                "JOIN users u ON u.id = i.user_id JOIN items it ON it.id = i.item_id")
    rng = random.Random(2)
    lines = [(f"{us}:{u}", f"{s}:{i}", ts, rng.choice(["train", "Validation ", "test", "0", "2"]))
             for us, u, s, i, ts in rows]
    lines.append((*lines[0][:3], "test" if lines[0][3] != "test" else "train"))  # a repeat: the first row counts
    split_file = tmp_path / "splits.csv"
    with split_file.open("w", newline="") as handle:
        csv.writer(handle).writerows([("user_id", "item_id", "ts", "split"), *lines])
    assert_same_dataset(spark, generated, BuildOptions(scenario="video", split="given", split_file=str(split_file)),
                        tmp_path / "given")

    # A file lacking interactions the build keeps: the same one-line error as the local engine, nothing written.
    lacking = tmp_path / "lacking.csv"
    lacking.write_text("\n".join(split_file.read_text().splitlines()[::2]) + "\n")
    options = BuildOptions(scenario="video", split="given", split_file=str(lacking))
    with pytest.raises(UsageError) as local:
        build_dataset(generated, tmp_path / "local-lacking", options)
    with pytest.raises(UsageError) as spark_error:
        build_dataset_spark(spark, generated, tmp_path / "spark-lacking", options, workdir=tmp_path)
    assert str(spark_error.value) == str(local.value)
    assert not (tmp_path / "spark-lacking").exists()
    with pytest.raises(NothingToDoError, match="no user is left"):
        build_dataset_spark(spark, generated, tmp_path / "none", BuildOptions(scenario="video", min_interactions=999),
                            workdir=tmp_path)


def test_postgres_store_gives_the_sqlite_dataset(spark, postgres_store, generated, tmp_path):
    store = postgres_store
    fill_generated(store)
    options = BuildOptions(scenario="video", k_core=3)
    build_dataset(generated, tmp_path / "sqlite", options)
    build_dataset_spark(spark, store, tmp_path / "spark", options, workdir=tmp_path)
    assert digests(tmp_path / "spark") == digests(tmp_path / "sqlite")
