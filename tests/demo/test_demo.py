"""The offline demo runs the real flow end to end over a loopback server."""

from __future__ import annotations

import datasets
from click.testing import CliRunner

from timgen_data.cli import cli
from timgen_data.demo.run import DEMO_SPEC, run_demo


def test_demo_runs_collect_label_build_offline(tmp_path):
    result = run_demo(tmp_path)
    assert result.collect.md5_verified  # the archive came over HTTP with its published .md5
    assert result.collect.stored["interactions"] == DEMO_SPEC.ratings
    assert result.label.labeled == DEMO_SPEC.ratings
    loaded = datasets.load_dataset(str(result.build.path), "interactions")
    assert loaded["test"].num_rows == result.build.statistics["splits"]["test"]["rows"] > 0
    again = run_demo(tmp_path)  # re-running starts afresh and gives the same dataset
    assert again.build.statistics == result.build.statistics


def test_demo_command_prints_where_the_output_is(tmp_path):
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "demo"])
    assert result.exit_code == 0, result.output
    assert "dataset" in result.output and str(tmp_path / "demo" / "dataset") in result.output.replace("\n", "")
