"""The network: shapes, gradients, causality, modality masking, the KL term."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.contract import drifting_histories, genre_embeddings, write_contract

from timgen_model.batches import SplitTensors, training_windows
from timgen_model.config import RunConfig, load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.model import kl_standard_normal
from timgen_model.training import build_network
from timgen_model.variants import variant_config

SMALL = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=20",
         "model.dropout=0.0"]


@pytest.fixture(scope="module")
def multimodal(tmp_path_factory):
    histories, genres = drifting_histories(users=20, steps=25, seed=1)
    # Text for about half the items, image for all: a step can lack text but never image.
    embeddings = {"text": genre_embeddings(genres, dim=6, share=0.5, seed=2),
                  "image": genre_embeddings(genres, dim=5, share=1.0, seed=3)}
    folder = write_contract(tmp_path_factory.mktemp("mm") / "ds", histories, genres, embeddings)
    return encode_dataset(read_contract(folder))


def first_batch(data, config: RunConfig, count: int = 4):
    split = data.splits["train"]
    windows = training_windows(split, config.model.max_len)
    return SplitTensors(split, data.score_mean, data.score_std).batch(windows.take(np.arange(count)))


def test_shapes_and_every_used_parameter_gets_a_gradient(multimodal):
    config = load_run_config(None, SMALL)
    torch.manual_seed(0)
    model = build_network(config, multimodal)
    batch = first_batch(multimodal, config)
    encoded = model(batch)
    B, L = batch.items.shape
    assert encoded.latent.shape == (B, L, 8)
    assert encoded.alpha.shape == (B, L, 3) and encoded.modalities == ("item", "text", "image")
    loss, parts = model.loss(batch, config.loss, step=10)
    assert set(parts) >= {"reconstruction", "kl", "score_mse", "class_bce", "loss"}  # the class set by default
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert missing == []


def test_latent_at_step_t_depends_only_on_steps_up_to_t(multimodal):
    config = load_run_config(None, SMALL)
    torch.manual_seed(0)
    model = build_network(config, multimodal).eval()
    batch = first_batch(multimodal, config, count=2)
    before = model(batch).latent
    changed = batch.items.clone()
    changed[:, 6] = changed[:, 6] % 40 + 3  # another real item at step 6
    batch.items = changed
    batch.scores = batch.scores.clone()
    batch.scores[:, 6] += 1.0
    after = model(batch).latent
    assert torch.equal(before[:, :6], after[:, :6])
    assert not torch.allclose(before[:, 6:], after[:, 6:])


@pytest.mark.parametrize("variant", ["timgen", "timgen-mean-pooling"])
def test_causality_holds_for_both_temporal_layers(multimodal, variant):
    config = variant_config(variant, None, SMALL)
    torch.manual_seed(0)
    model = build_network(config, multimodal).eval()
    batch = first_batch(multimodal, config, count=2)
    before = model(batch).latent
    batch.gaps = batch.gaps.clone()
    batch.gaps[:, 10:] += 10_000.0
    after = model(batch).latent
    assert torch.equal(before[:, :10], after[:, :10])


def test_absent_modality_gets_exactly_zero_weight(multimodal):
    config = load_run_config(None, SMALL)
    torch.manual_seed(0)
    model = build_network(config, multimodal).eval()
    batch = first_batch(multimodal, config, count=8)
    alpha = model(batch).alpha  # [B, L, M]
    has_text = model.present_text[batch.items] & batch.mask
    seen_text = torch.cumsum(has_text.long(), dim=1) > 0
    text = alpha[..., 1]
    assert (~seen_text).any() and seen_text.any()  # the fixture exercises both cases
    assert torch.all(text[~seen_text] == 0.0)
    assert torch.all(text[seen_text & batch.mask] > 0.0)
    real = batch.mask
    assert torch.allclose(alpha[real].sum(-1), torch.ones(int(real.sum())), atol=1e-5)


def test_masked_modality_is_gone_from_fusion_and_inputs(multimodal):
    config = variant_config("timgen-without-text", None, SMALL)
    model = build_network(config, multimodal)
    assert model.fused_modalities == ("item", "image")
    assert "text" not in model.modality_projection


def test_no_modalities_at_all_still_trains(tmp_path):
    histories, genres = drifting_histories(users=10, steps=12)
    data = encode_dataset(read_contract(write_contract(tmp_path / "ds", histories, genres)))
    config = load_run_config(None, SMALL)
    model = build_network(config, data)
    batch = first_batch(data, config)
    encoded = model(batch)
    assert encoded.modalities == ("item",)
    assert torch.all(encoded.alpha[batch.mask] == 1.0)
    loss, _ = model.loss(batch, config.loss, 0)
    loss.backward()


def test_kl_matches_the_closed_form_of_torch_distributions():
    torch.manual_seed(0)
    mu, sigma = torch.randn(5, 7), torch.rand(5, 7) + 0.1
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, sigma), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    assert torch.allclose(kl_standard_normal(mu, sigma), expected, atol=1e-5)
    assert torch.allclose(kl_standard_normal(torch.zeros(3), torch.ones(3)), torch.tensor(0.0))


def test_sasrec_variant_has_no_fusion_vae_or_side_inputs(multimodal):
    config = variant_config("sasrec", None, SMALL)
    model = build_network(config, multimodal)
    assert not hasattr(model, "sigma") and not hasattr(model, "action_embedding")
    assert hasattr(model, "position_embedding")
    encoded = model(first_batch(multimodal, config))
    assert encoded.alpha is None and encoded.sigma is None


def test_sampled_softmax_trains_on_negatives_and_evaluation_still_ranks_everything(multimodal):
    config = load_run_config(None, SMALL + ["loss.negatives=5"])
    torch.manual_seed(0)
    model = build_network(config, multimodal)
    batch = first_batch(multimodal, config)
    _, parts, _, predictions = model.loss_terms(batch, config.loss, step=10)
    assert predictions.item_logits is None  # no [T, N] logits while training on samples
    assert np.isfinite(parts["reconstruction"]) and parts["reconstruction"] > 0
    # Against 5 negatives the loss is bounded by log(6) for uniform logits; the full softmax is not.
    model.eval()
    _, full_parts, _, full = model.loss_terms(batch, config.loss, step=10)
    assert full.item_logits.shape[1] == model.spec.num_items
    targets = batch.target_items[batch.evaluate & batch.mask]
    expected = torch.nn.functional.cross_entropy(full.item_logits, targets)
    assert full_parts["reconstruction"] == pytest.approx(float(expected.detach()), rel=1e-5)


def test_sampled_negative_equal_to_the_target_is_masked(multimodal, monkeypatch):
    config = load_run_config(None, SMALL)
    torch.manual_seed(0)
    model = build_network(config, multimodal).eval()
    batch = first_batch(multimodal, config, count=1)
    select = batch.evaluate & batch.mask
    targets = batch.target_items[select][:1]
    predictions = model.generate(model(batch).latent[select][:1], targets, want_ranking=False)
    other = int(targets[0]) + 1 if int(targets[0]) + 1 < model.spec.num_items else int(targets[0]) - 1

    def draws(item):
        monkeypatch.setattr(torch, "randint", lambda low, high, size, device=None: torch.full(size, item))
        return float(model.sampled_reconstruction(predictions, targets, 4))

    # Every negative is the target itself: all are masked, only the positive is left, loss 0.
    assert draws(int(targets[0])) == 0.0
    assert draws(other) > 0.0
