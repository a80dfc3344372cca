"""The ranking options measured against RecBole's SASRec: attention dropout and overlapping training windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.contract import drifting_histories, genre_embeddings, write_contract

from timgen_model.batches import SplitTensors, windows_for_training
from timgen_model.config import load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.training import build_network

SMALL = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=8",
         "model.dropout=0.0", "model.vae=false"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    histories, genres = drifting_histories(users=12, steps=21, seed=4)
    embeddings = {"text": genre_embeddings(genres, dim=6, share=1.0, seed=5)}
    return encode_dataset(read_contract(write_contract(tmp_path_factory.mktemp("rank") / "ds", histories, genres,
                                                        embeddings)))


def _latents(data, overrides: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    config = load_run_config(None, SMALL + overrides)
    torch.manual_seed(0)
    model = build_network(config, data).train()
    split = data.splits["train"]
    batch = SplitTensors(split, data.score_mean, data.score_std).batch(
        windows_for_training(split, config.model.max_len).take(np.arange(3)))
    return model(batch).latent, model(batch).latent


def test_attention_dropout_is_the_only_randomness_it_adds(data):
    first, second = _latents(data, [])
    assert torch.equal(first, second)  # no dropout anywhere: training passes agree
    first, second = _latents(data, ["model.attention_dropout=0.5"])
    assert not torch.allclose(first, second)


@pytest.mark.parametrize("kind", ["disjoint", "overlapping"])
def test_training_windows_predict_every_target_once(data, kind):
    split = data.splits["train"]
    windows = windows_for_training(split, 8, kind).take(np.arange(len(windows_for_training(split, 8, kind))))
    predicted = np.sort(windows.targets[windows.evaluate])
    assert np.array_equal(predicted, np.flatnonzero(split.is_target))


def test_overlapping_windows_give_each_later_target_half_a_window_of_context(data):
    split = data.splits["train"]
    starts = np.asarray(split.offsets[:-1])
    context = {"disjoint": [], "overlapping": []}
    for kind in context:
        windows = windows_for_training(split, 8, kind).take(np.arange(len(windows_for_training(split, 8, kind))))
        slot = np.broadcast_to(np.arange(8), windows.targets.shape)
        late = windows.targets - starts[windows.rows][:, None] >= 4  # beyond a history's first half window
        context[kind] = slot[windows.evaluate & late]
    assert context["overlapping"].min() >= 4 - 1  # slot j has j + 1 inputs: at least 4 before the target
    assert context["disjoint"].min() == 0  # a disjoint window's first target sees one input only
