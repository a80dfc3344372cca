"""Building the dataset contract: splits without leakage, filters, determinism, loading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import datasets
import pandas as pd
import pyarrow.parquet as pq
import pytest

from timgen_contract import FORMAT_VERSION, INTERACTIONS_SCHEMA, ITEMS_SCHEMA
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.dataset import BuildOptions, build_dataset, k_core
from timgen_data.dataset.sequences import sort_interactions
from timgen_data.errors import NothingToDoError, UsageError
from timgen_data.labeling import label_store


@pytest.fixture(scope="module")
def built(ml100k_labelled, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "ml-100k"
    build_dataset(ml100k_labelled, out, BuildOptions(min_interactions=5))
    return out


def read_split(out: Path, split: str) -> list[dict]:
    return pq.read_table(out / "interactions" / f"{split}-00000-of-00001.parquet").to_pylist()


def assert_no_row_sees_past_its_last_target(rows):
    for row in rows:
        assert row["is_target"][-1], row["user_id"]
        assert row["timestamps"] == sorted(row["timestamps"])


def test_leave_last_out_on_real_data(built):
    train, valid, test = (read_split(built, s) for s in ("train", "validation", "test"))
    assert len(test) == len(valid) == len(train) == 943
    for rows in (train, valid, test):
        assert_no_row_sees_past_its_last_target(rows)
    by_user = {r["user_id"]: r for r in test}
    for v in valid:
        t = by_user[v["user_id"]]
        assert v["item_ids"] == t["item_ids"][:-1] and sum(v["is_target"]) == 1 == sum(t["is_target"])
    for tr in train:
        t = by_user[tr["user_id"]]
        assert tr["item_ids"] == t["item_ids"][:-2] and all(tr["is_target"])
    assert sum(len(r["item_ids"]) for r in test) == 100_000
    assert {a for r in test for a in r["actions"]} == {"rate"}
    assert all(r["scores"] == r["values"] for r in test[:50])


def test_load_dataset_reads_both_configs(built):
    interactions = datasets.load_dataset(str(built), "interactions")
    items = datasets.load_dataset(str(built), "items")
    assert set(interactions) == {"train", "validation", "test"}
    assert interactions["test"].num_rows == 943
    assert interactions["test"].features["scores"].feature.dtype == "float32"
    assert items["train"].num_rows == 1682
    toy = items["train"][0]
    assert (toy["item_id"], toy["title"], toy["year"], toy["class"]) == ("1", "Toy Story", 1995, "Animation")
    assert toy["text_emb"] is None
    card = (built / "README.md").read_text()
    assert card.startswith("---\nconfigs:") and "Harper" in card and "min_interactions" in card
    assert (built / "stats.png").read_bytes()[:4] == b"\x89PNG"
    # The contract's version and columns, as the model reads them.
    assert json.loads((built / "build.json").read_text())["parameters"]["format_version"] == FORMAT_VERSION
    assert pq.read_schema(next((built / "interactions").glob("test-*.parquet"))).remove_metadata() == INTERACTIONS_SCHEMA
    assert pq.read_schema(next((built / "items").glob("*.parquet"))).remove_metadata() == ITEMS_SCHEMA


def _digests(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.parquet"))}


def test_same_store_and_options_give_identical_parquet(ml100k_labelled, built, tmp_path):
    again = build_dataset(ml100k_labelled, tmp_path / "again", BuildOptions(min_interactions=5)).path
    assert _digests(again) == _digests(built)
    assert (again / "README.md").read_text() == (built / "README.md").read_text()


def test_time_split_targets_and_no_leakage(ml100k_labelled, tmp_path):
    valid_start, test_start = 890_000_000, 891_500_000
    out = build_dataset(ml100k_labelled, tmp_path / "time", BuildOptions(
        split="time", valid_start=valid_start, test_start=test_start)).path
    train, valid, test = (read_split(out, s) for s in ("train", "validation", "test"))
    assert all(max(r["timestamps"]) < valid_start for r in train)
    for row in valid:
        targets = [t for t, flag in zip(row["timestamps"], row["is_target"]) if flag]
        assert targets and all(valid_start <= t < test_start for t in targets)
        assert max(row["timestamps"]) < test_start
    for row in test:
        targets = [t for t, flag in zip(row["timestamps"], row["is_target"]) if flag]
        assert targets and all(t >= test_start for t in targets)
    for rows in (valid, test):
        assert_no_row_sees_past_its_last_target(rows)
    assert sum(sum(r["is_target"]) for r in test) == sum(
        1 for r in read_split(out, "test") for t in r["timestamps"] if t >= test_start)


def test_min_interactions_filter(ml100k_labelled, tmp_path):
    out = build_dataset(ml100k_labelled, tmp_path / "min", BuildOptions(min_interactions=100)).path
    test = read_split(out, "test")
    assert test and all(len(r["item_ids"]) >= 100 for r in test)
    assert len(test) < 943


def test_k_core_leaves_every_user_and_item_with_k():
    # u3 has one interaction; dropping it leaves item c with one, which must go too.
    rows = [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b"), ("u2", "c"), ("u3", "c")]
    frame = pd.DataFrame({"user": [u for u, _ in rows], "item": [i for _, i in rows],
                          "ts": range(len(rows)), "action": "rate"})
    core = k_core(sort_interactions(frame), 2).frame
    assert sorted(zip(core["user"], core["item"])) == [("u1", "a"), ("u1", "b"), ("u2", "a"), ("u2", "b")]


def test_option_and_state_errors(ml100k_labelled, tmp_path, sqlite_store):
    with pytest.raises(UsageError, match="--valid-start"):
        build_dataset(ml100k_labelled, tmp_path / "x", BuildOptions(split="time"))
    with pytest.raises(NothingToDoError, match="label --scenario ecommerce"):
        build_dataset(ml100k_labelled, tmp_path / "x", BuildOptions(scenario="ecommerce"))
    with pytest.raises(NothingToDoError, match="collect"):
        build_dataset(sqlite_store, tmp_path / "x")
    with pytest.raises(NothingToDoError, match="no source named"):
        build_dataset(ml100k_labelled, tmp_path / "x", BuildOptions(sources=("movielens-1m",)))
    assert not (tmp_path / "x").exists()


def test_postgres_and_sqlite_builds_are_identical(store, shared_data, built, tmp_path):
    collect_movielens(store, "100k", data_dir=tmp_path, from_file=shared_data / "ml-100k")
    label_store(store, "movie")
    out = build_dataset(store, tmp_path / "out", BuildOptions(min_interactions=5)).path
    assert _digests(out) == _digests(built)
