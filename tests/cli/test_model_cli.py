"""``train`` / ``evaluate`` / ``generate`` / ``experiment`` through the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from support.contract import drifting_histories, genre_embeddings, write_contract

from timgen_data.cli import cli

SMALL = ["--set", "model.embedding_size=16", "--set", "model.feedforward_size=32", "--set", "model.latent_size=8",
         "--set", "model.max_len=16", "--set", "train.threads=1", "--batch-size", "16"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    histories, genres = drifting_histories(users=30, steps=14, seed=5)
    embeddings = {"text": genre_embeddings(genres, dim=6, share=0.7)}
    return write_contract(tmp_path_factory.mktemp("cli") / "ds", histories, genres, embeddings)


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_train_evaluate_generate(dataset, tmp_path):
    out = tmp_path / "run"
    trained = run("train", dataset, "--out", out, "--epochs", 2, *SMALL)
    assert trained.exit_code == 0, trained.output
    assert "best epoch" in trained.output and (out / "checkpoint.pt").exists()

    evaluated = run("evaluate", out, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    metrics = json.loads(evaluated.output)
    assert metrics["targets"] == 30 and metrics["split"] == "test"
    assert json.loads((out / "evaluation-test.json").read_text()) == metrics
    # The same numbers training reported for its best checkpoint.
    assert metrics["ndcg@10"] == json.loads((out / "metrics.json").read_text())["test"]["ndcg@10"]

    generated = run("generate", out, "--user", "u2", "--top-k", 3)
    assert generated.exit_code == 0, generated.output
    assert "next for user u2" in generated.output and "modality weights" in generated.output
    as_json = json.loads(run("generate", out, "--user", "u2", "--top-k", 3, "--json").output)
    assert [r["rank"] for r in as_json["recommendations"]] == [1, 2, 3]
    assert set(as_json["modality_weights"]) == {"item", "text"}


def test_bad_config_and_unknown_user_exit_2_with_the_fix(dataset, tmp_path):
    bad = run("train", dataset, "--out", tmp_path / "x", "--set", "model.widht=3")
    assert bad.exit_code == 2 and "model.widht" in bad.output
    unknown = run("evaluate", tmp_path / "nowhere")
    assert unknown.exit_code == 3 and "timgen-data train" in unknown.output


def test_experiment_writes_tables_and_checks(dataset, tmp_path):
    out = tmp_path / "exp"
    result = run("experiment", out, "--dataset", dataset, "--epochs", 1, "--variant", "timgen",
                 "--variant", "timgen-mean-pooling", "--variant", "timgen-without-text", *SMALL)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "experiment.json").read_text())
    models = [row["model"] for row in summary["rows"]]
    assert models == ["global-mean", "biases", "biased-mf", "timgen", "timgen-mean-pooling", "timgen-without-text"]
    sources = {c["target"]: c["source"] for c in summary["targets"]}
    # Neither the paper nor its summary states a number: the MF bar is the project's own, the
    # pooling comparison the summary's first experiment.
    assert sources["TIMGen RMSE ≤ 0.97 × biased-MF RMSE"].startswith("this project's bar")
    assert sources["TIMGen RMSE < mean-pooling RMSE"].startswith("the paper's summary")
    assert all("no number" in s or "or a number" in s for s in sources.values())
    table = (out / "experiment.md").read_text()
    assert "| target | from | met | figures |" in table
    assert f"| TIMGen RMSE < mean-pooling RMSE | {sources['TIMGen RMSE < mean-pooling RMSE']} |" in table
    assert "paper's claim" not in table
    assert "| timgen-without-text |" in table and (out / "comparison.png").stat().st_size > 0
    assert (out / "timgen" / "latent_map.png").exists()


def test_train_prints_its_summary_as_json(dataset, tmp_path):
    out = tmp_path / "run"
    trained = run("train", dataset, "--out", out, "--epochs", 1, "--json", *SMALL)
    assert trained.exit_code == 0, trained.output
    summary = json.loads(trained.stdout)  # no line per epoch before it
    assert summary["variant"] == "timgen" and summary["best_epoch"] == 1
    assert summary["metrics"] == json.loads((out / "metrics.json").read_text())
    assert summary["written"]["checkpoint"] == str(out / "checkpoint.pt")
