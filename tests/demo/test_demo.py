"""The offline demo runs the real flow end to end over a loopback server."""

from __future__ import annotations

import json

import datasets
import numpy as np
import pyarrow.parquet as pq
from click.testing import CliRunner

from timgen_data.cli import cli
from timgen_data.demo.run import DEMO_SPEC, run_demo


def test_demo_runs_collect_label_build_offline(tmp_path):
    result = run_demo(tmp_path, train_model=False)
    assert result.collect.md5_verified  # the archive came over HTTP with its published .md5
    assert result.collect.stored["interactions"] == DEMO_SPEC.ratings
    assert result.label.labeled == DEMO_SPEC.ratings
    loaded = datasets.load_dataset(str(result.build.path), "interactions")
    assert loaded["test"].num_rows == result.build.statistics["splits"]["test"]["rows"] > 0
    # Every movie got its four media through the real asset path, and their vectors reached the dataset.
    assert result.assets.failed == 0 and result.assets.fetched == 4 * DEMO_SPEC.items
    items = pq.read_table(next((result.build.path / "items").glob("*.parquet"))).to_pandas()
    for modality in ("text", "image", "video", "audio"):
        assert items[f"{modality}_emb"].notna().all(), modality
    # The media depend on the genre, so vectors of one genre sit closer together than across genres.
    vectors = np.stack(items["image_emb"].to_numpy())
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    similar = vectors @ vectors.T
    same = items["class"].to_numpy()[:, None] == items["class"].to_numpy()[None, :]
    assert similar[same].mean() > similar[~same].mean() + 0.1
    card = (result.build.path / "README.md").read_text()
    assert all(f"classic:{m}" in card for m in ("text", "image", "video", "audio"))
    again = run_demo(tmp_path, train_model=False)  # re-running starts afresh and gives the same dataset
    assert again.build.statistics == result.build.statistics


def test_demo_command_trains_a_model_and_prints_where_the_output_is(tmp_path):
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "demo"])
    assert result.exit_code == 0, result.output
    assert "dataset" in result.output and str(tmp_path / "demo" / "dataset") in result.output.replace("\n", "")
    assert "TIMGen trained" in result.output
    metrics = json.loads((tmp_path / "demo" / "run" / "metrics.json").read_text())
    test_rows = pq.read_table(tmp_path / "demo" / "dataset" / "interactions" / "test-00000-of-00001.parquet").num_rows
    assert metrics["test"]["targets"] == test_rows > 0
    for plot in ("loss_curves.png", "modality_weights.png", "latent_map.png"):
        assert (tmp_path / "demo" / "run" / plot).stat().st_size > 0
