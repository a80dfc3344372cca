"""Training end to end on tiny corpora: loss falls, checkpoints round-trip, resume equals a clean
run, temporal beats average pooling on drifting interests, generate and the contract errors."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import torch
from support.contract import drifting_histories, write_contract

from timgen_model.checkpoint import BEST, LAST, load_checkpoint
from timgen_model.config import load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.errors import CheckpointError, DatasetError, ModelConfigError, ModelUsageError
from timgen_model.evaluation import evaluate_network
from timgen_model.generation import generate_for_user
from timgen_model.training import train
from timgen_model.variants import variant_config

TINY = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=16",
        "model.num_heads=2", "train.batch_size=16", "train.learning_rate=0.01", "train.threads=1"]


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    histories, genres = drifting_histories(users=40, steps=16, seed=3)
    return write_contract(tmp_path_factory.mktemp("tiny") / "ds", histories, genres)


@pytest.fixture(scope="module")
def tiny_run(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "run"
    result = train(tiny_dataset, out, load_run_config(None, TINY + ["train.epochs=6"]))
    return out, result


def test_training_writes_checkpoint_metrics_and_plots(tiny_run):
    out, result = tiny_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["targets"] == 40
    for key in ("rmse", "mae", "accuracy", "macro_f1", "class_set_micro_f1", "class_set_macro_f1", "hr@10", "ndcg@10",
                "hr@10_unseen", "ndcg@10_unseen"):
        assert metrics["test"][key] is not None, key
    for name in ("loss_curves.png", "modality_weights.png", "latent_map.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    assert (out / BEST).exists() and (out / LAST).exists()


def test_loss_falls_on_a_tiny_corpus(tiny_run):
    _, result = tiny_run
    first, last = result.history[0], result.history[-1]
    assert last["train_loss"] < first["train_loss"] * 0.95
    # Every supervised part learns, not just the sum.
    for part in ("train_reconstruction", "train_score_mse", "train_class_bce"):
        assert last[part] < first[part], part


def test_checkpoint_round_trip_gives_identical_outputs(tiny_run, tiny_dataset):
    out, _ = tiny_run
    checkpoint = load_checkpoint(out)
    data = encode_dataset(read_contract(tiny_dataset), checkpoint.vocabularies)
    first = evaluate_network(checkpoint.build_model(), data, "test")
    second = evaluate_network(load_checkpoint(out / BEST).build_model(), data, "test")
    assert first.metrics == second.metrics
    assert torch.equal(torch.as_tensor(first.latent), torch.as_tensor(second.latent))
    assert checkpoint.dataset_fingerprint == data.fingerprint and checkpoint.config.model.embedding_size == 16


def test_same_seed_same_run(tiny_dataset, tiny_run, tmp_path):
    _, first = tiny_run
    again = train(tiny_dataset, tmp_path / "again", load_run_config(None, TINY + ["train.epochs=6"]))
    assert again.history == first.history


def test_interrupted_then_resumed_equals_one_clean_run(tiny_dataset, tiny_run, tmp_path):
    _, clean = tiny_run
    config = load_run_config(None, TINY + ["train.epochs=6"])

    def stop_after_two(entry):
        if entry["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny_dataset, tmp_path / "resumed", config, on_epoch=stop_after_two)
    resumed = train(tiny_dataset, tmp_path / "resumed", resume=True)
    assert resumed.history == clean.history
    assert resumed.metrics["test"] == clean.metrics["test"]


def test_resume_refuses_other_data(tiny_run, tmp_path):
    out, _ = tiny_run
    histories, genres = drifting_histories(users=12, steps=10, seed=9)
    other = write_contract(tmp_path / "other", histories, genres)
    with pytest.raises(CheckpointError, match="different data"):
        train(other, out, resume=True)


def test_temporal_model_beats_average_pooling_on_drifting_interests(tmp_path):
    histories, genres = drifting_histories(users=160, steps=30, seed=0)
    data = encode_dataset(read_contract(write_contract(tmp_path / "drift", histories, genres)))
    settings = TINY + ["model.max_len=32", "train.epochs=12", "train.patience=12", "model.dropout=0.1"]
    scores = {}
    for variant in ("timgen", "timgen-mean-pooling"):
        result = train(data, tmp_path / variant, variant_config(variant, None, settings), variant=variant)
        scores[variant] = result.metrics["validation"]["ndcg@10"] + result.metrics["test"]["ndcg@10"]
    # The next item follows the previous one along a chain 85% of the time: a running mean
    # cannot tell which item came last.
    assert scores["timgen"] > scores["timgen-mean-pooling"] + 0.2, scores


def test_generate_recommends_unseen_items_with_scores(tiny_run, tiny_dataset):
    out, _ = tiny_run
    result = generate_for_user(out, "u3", top_k=5)
    assert len(result.recommendations) == 5
    history = set(pq.read_table(tiny_dataset / "interactions" / "test-00000-of-00001.parquet")
                  .to_pylist()[3]["item_ids"])
    assert not {r.item_id for r in result.recommendations} & history
    assert all(1.0 <= r.predicted_score <= 5.0 for r in result.recommendations)
    assert result.recommendations[0].title.startswith("Title ")
    assert abs(sum(result.modality_weights.values()) - 1.0) < 1e-5
    with_seen = generate_for_user(out, "u3", top_k=5, exclude_seen=False)
    assert [r.rank for r in with_seen.recommendations] == [1, 2, 3, 4, 5]


def test_generate_for_unknown_user_names_examples(tiny_run):
    out, _ = tiny_run
    with pytest.raises(ModelUsageError, match="u0"):
        generate_for_user(out, "nobody")


def test_missing_dataset_and_missing_columns_are_dataset_errors(tmp_path, tiny_dataset):
    with pytest.raises(DatasetError, match="not a dataset folder"):
        read_contract(tmp_path / "absent")
    broken = tmp_path / "broken"
    (broken / "interactions").mkdir(parents=True)
    (broken / "items").mkdir()
    for split in ("train", "validation", "test"):
        table = pq.read_table(tiny_dataset / "interactions" / f"{split}-00000-of-00001.parquet")
        pq.write_table(table.drop(["is_target"]), broken / "interactions" / f"{split}-00000-of-00001.parquet")
    pq.write_table(pq.read_table(tiny_dataset / "items" / "train-00000-of-00001.parquet"),
                   broken / "items" / "train-00000-of-00001.parquet")
    with pytest.raises(DatasetError, match="is_target"):
        read_contract(broken)


def test_config_rejects_unknown_keys_and_bad_values(tmp_path):
    with pytest.raises(ModelConfigError, match="model.dropot"):
        load_run_config(None, ["model.dropot=0.1"])
    with pytest.raises(ModelConfigError, match="num_heads"):
        load_run_config(None, ["model.num_heads=3"])
    with pytest.raises(ModelConfigError, match="section.key=value"):
        load_run_config(None, ["epochs=3"])
    path = tmp_path / "run.toml"
    path.write_text("[train]\nepochs = 7\n[model]\ntemporal = 'mean'\n")
    config = load_run_config(path, ["train.seed=5"])
    assert (config.train.epochs, config.model.temporal, config.train.seed) == (7, "mean", 5)
    path.write_text("[train]\nepoch = 7\n")
    with pytest.raises(ModelConfigError, match="train.epoch"):
        load_run_config(path)


def test_missing_checkpoint_says_how_to_make_one(tmp_path):
    with pytest.raises(CheckpointError, match="timgen-data train"):
        load_checkpoint(tmp_path)


def test_a_checkpoint_from_before_class_sets_keeps_its_single_class_head(tiny_run, tiny_dataset, tmp_path):
    out, _ = tiny_run
    payload = torch.load(out / BEST, map_location="cpu", weights_only=True)
    assert payload["config"]["model"].pop("class_target") == "set"
    older = tmp_path / "older.pt"
    torch.save(payload, older)
    checkpoint = load_checkpoint(older)
    assert checkpoint.config.model.class_target == "primary"
    data = encode_dataset(read_contract(tiny_dataset), checkpoint.vocabularies)
    metrics = evaluate_network(checkpoint.build_model(), data, "test").metrics
    assert metrics["accuracy"] is not None and metrics["class_set_micro_f1"] is not None


def test_the_single_class_head_stays_reachable(tiny_dataset, tmp_path):
    config = load_run_config(None, TINY + ["train.epochs=2", "model.class_target=primary"])
    result = train(tiny_dataset, tmp_path / "primary", config)
    assert "train_class_ce" in result.history[-1] and "train_class_bce" not in result.history[-1]
    assert json.loads((tmp_path / "primary" / "metrics.json").read_text())["test"]["class_set_micro_f1"] is not None
