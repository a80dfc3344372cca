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


def _network_and_batch(data, overrides: list[str]):
    """A fresh network (seed 0) in training mode, its config, and a batch of three training windows."""
    config = load_run_config(None, SMALL + overrides)
    torch.manual_seed(0)
    model = build_network(config, data).train()
    split = data.splits["train"]
    batch = SplitTensors(split, data.score_mean, data.score_std).batch(
        windows_for_training(split, config.model.max_len).take(np.arange(3)))
    return model, config, batch


def _latents(data, overrides: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    model, _, batch = _network_and_batch(data, overrides)
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


def _trained_once(data, overrides: list[str]):
    """The network after one optimizer step on three training windows."""
    model, config, batch = _network_and_batch(data, overrides)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    loss, _ = model.loss(batch, config.loss, step=0)
    loss.backward()
    optimizer.step()
    return model, batch


def test_without_the_item_bias_the_ranking_is_query_times_item_vector_only(data):
    with_bias, _ = _trained_once(data, [])
    assert with_bias.item_bias.abs().max() > 0  # learned: it moved in one step
    model, batch = _trained_once(data, ["model.item_bias=false"])
    assert torch.count_nonzero(model.item_bias) == 0
    model.eval()
    with torch.no_grad():
        latent = model(batch).latent[:, -1]
        logits = model.generate(latent, want_scores=False, want_classes=False).item_logits
        expected = model.decoder(latent) @ model.all_item_vectors().T
    np.testing.assert_allclose(logits[:, 3:].numpy(), expected[:, 3:].numpy(), rtol=1e-5, atol=1e-6)


def test_post_layer_norm_stays_causal_and_differs_from_pre_layer_norm(data):
    config = load_run_config(None, SMALL + ["model.norm_first=false"])
    torch.manual_seed(0)
    post = build_network(config, data).eval()
    assert all(not layer.norm_first for layer in post.temporal.layers)
    assert isinstance(post.temporal_norm, torch.nn.Identity)
    x = torch.randn(2, 8, 16)
    mask = torch.ones(2, 8, dtype=torch.bool)
    changed = x.clone()
    changed[:, 5:] = torch.randn(2, 3, 16)
    with torch.no_grad():
        before, after = post.temporal_states(x, mask), post.temporal_states(changed, mask)
        torch.manual_seed(0)
        pre = build_network(load_run_config(None, SMALL), data).eval().temporal_states(x, mask)
    torch.testing.assert_close(before[:, :5], after[:, :5])  # steps ≤ t never see later steps
    assert not torch.allclose(before[:, 5:], after[:, 5:])
    assert not torch.allclose(before, pre)


def test_linear_decoder_and_initial_scale(data):
    config = load_run_config(None, SMALL + ["model.decoder=linear", "model.init_std=0.02"])
    torch.manual_seed(0)
    model = build_network(config, data)
    assert isinstance(model.decoder, torch.nn.Linear)
    assert abs(model.item_embedding.weight[1:].std().item() - 0.02) < 0.004
    torch.manual_seed(0)
    default = build_network(load_run_config(None, SMALL), data)
    assert abs(default.item_embedding.weight[1:].std().item() - 0.05) < 0.01


def test_the_recbole_recipe_variant_sets_every_switch_and_the_user_still_overrides(data):
    from timgen_model.variants import variant_config

    config = variant_config("sasrec-recbole", overrides=["train.patience=3"])
    model, train = config.model, config.train
    assert (model.dropout, model.attention_dropout, model.max_len) == (0.5, 0.5, 50)
    assert (model.norm_first, model.init_std, model.decoder, model.item_bias) == (False, 0.02, "linear", False)
    assert (model.fusion, model.vae, model.time_features, config.loss.score) == ("none", False, False, 0)
    assert (train.learning_rate, train.windows, train.monitor, train.patience) == (0.001, "overlapping", "ndcg@10", 3)
    network = build_network(config, data)
    assert not network.item_bias.requires_grad and isinstance(network.decoder, torch.nn.Linear)
