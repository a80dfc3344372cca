"""Build keeps only interactions labelled for the scenario, says how many it left out and from
which sources, and refuses a requested source that has no labels; never NaN in ``scores``."""

from __future__ import annotations

import json
import math
import shutil

import pyarrow.parquet as pq
import pytest
from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.event_log import collect_log, rated_rows

from timgen_data.dataset import BuildOptions, build_dataset
from timgen_data.errors import NothingToDoError
from timgen_data.labeling import label_store
from timgen_data.store import Store


def read_rows(out, split="test") -> list[dict]:
    return pq.read_table(out / "interactions" / f"{split}-00000-of-00001.parquet").to_pylist()


def comments(users: int, per_user: int) -> list:
    """Comments the movie formula does not label (it labels ratings)."""
    return [(f"c{u}", f"i{k}", 1_700_000_000 + 100 * k + u, "comment", None)
            for u in range(users) for k in range(per_user)]


def test_a_source_the_scenario_does_not_label_is_left_out_and_said(store, tmp_path):
    collect_log(store, tmp_path / "logs", "ratings", rated_rows(users=4, per_user=5))
    collect_log(store, tmp_path / "logs", "talk", comments(users=3, per_user=4))
    label_store(store, "movie")
    result = build_dataset(store, tmp_path / "out")
    rows = read_rows(result.path)
    assert {r["user_id"] for r in rows} == {"u0", "u1", "u2", "u3"}  # ids as a one-source build gives them
    assert sum(len(r["scores"]) for r in rows) == 20 == result.statistics["interactions"]
    assert not any(math.isnan(s) for r in rows for s in r["scores"])
    assert result.left_out == {"events-talk": 12}
    assert result.statistics["left_out_unlabelled"] == {"events-talk": 12}
    assert json.loads((result.path / "build.json").read_text())["parameters"]["sources"] == ["events-ratings"]
    assert "events-talk" in (result.path / "README.md").read_text()
    with pytest.raises(NothingToDoError, match=r"events-talk has no 'movie' labels.*timgen-data label"):
        build_dataset(store, tmp_path / "asked", BuildOptions(sources=("events-ratings", "events-talk")))
    assert not (tmp_path / "asked").exists()


def test_unlabelled_interactions_of_a_labelled_source_are_left_out(store, tmp_path):
    mixed = rated_rows(users=3, per_user=4) + [(f"u{u}", "i9", 1_650_000_000 + u, "comment", None) for u in range(3)]
    collect_log(store, tmp_path / "logs", "mixed", mixed)
    label_store(store, "movie")
    result = build_dataset(store, tmp_path / "out", BuildOptions(sources=("events-mixed",)))
    rows = read_rows(result.path)
    assert {a for r in rows for a in r["actions"]} == {"rate"}
    assert sum(len(r["scores"]) for r in rows) == 12
    assert not any(math.isnan(s) for r in rows for s in r["scores"])
    assert result.left_out == {"events-mixed": 3}


def test_a_fully_labelled_store_says_nothing_was_left_out(sqlite_store, tmp_path):
    collect_log(sqlite_store, tmp_path / "logs", "ratings", rated_rows(users=4, per_user=5))
    label_store(sqlite_store, "movie")
    result = build_dataset(sqlite_store, tmp_path / "out")
    assert result.left_out == {} and "left_out_unlabelled" not in result.statistics


def test_build_command_says_what_it_left_out(tmp_path):
    data = tmp_path / "data"
    store = Store.open(f"sqlite:///{data / 'store.sqlite'}")
    try:
        collect_log(store, tmp_path / "logs", "ratings", rated_rows(users=4, per_user=5))
        collect_log(store, tmp_path / "logs", "talk", comments(users=2, per_user=3))
        label_store(store, "movie")
    finally:
        store.dispose()
    result = invoke_cli("build", tmp_path / "out", data_dir=data)
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "left out" in text and "6 of events-talk" in text
    refused = invoke_cli("build", tmp_path / "other", "--source", "events-talk", data_dir=data)
    assert_fails_in_one_line(refused, 2, "NothingToDoError", "events-talk", "timgen-data label --scenario movie")
    shutil.rmtree(tmp_path / "out")
