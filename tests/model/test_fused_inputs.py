"""The fused input encoding and loss selection compute what one lookup and one projection per
feature, and boolean selection, compute."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from support.contract import drifting_histories, genre_embeddings, write_contract

from timgen_model.batches import Batch, SplitTensors, training_windows
from timgen_model.class_sets import class_set_targets
from timgen_model.config import load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.model import TIMGen, gap_bucket, selector, time_sinusoid
from timgen_model.training import build_network

SMALL = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=20",
         "model.dropout=0.0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    histories, genres = drifting_histories(users=12, steps=25, seed=4)
    embeddings = {"text": genre_embeddings(genres, dim=6, share=0.5, seed=2)}
    return encode_dataset(read_contract(write_contract(tmp_path_factory.mktemp("fused") / "ds", histories, genres,
                                                       embeddings)))


def varied_batch(data, model: TIMGen) -> Batch:
    """A training batch whose context fields are random, padding and unknown values included,
    so every table row and every code takes part."""
    split = data.splits["train"]
    batch = SplitTensors(split, data.score_mean, data.score_std).batch(training_windows(split, model.config.max_len).take(np.arange(6)))
    g = torch.Generator().manual_seed(7)
    spec = model.spec
    shape = batch.items.shape

    def codes(count: int) -> torch.Tensor:
        return torch.randint(0, count, shape, generator=g)

    return dataclasses.replace(
        batch, actions=codes(spec.num_actions), devices=codes(spec.num_devices), platforms=codes(spec.num_platforms),
        geos=codes(spec.num_geos), classes=codes(spec.num_classes),
        scores=torch.randn(shape, generator=g), score_known=torch.rand(shape, generator=g) < 0.7,
        gaps=torch.rand(shape, generator=g) * 1e6, seasons=codes(4), holidays=codes(3),
        day_phases=torch.rand(shape, generator=g), year_phases=torch.rand(shape, generator=g),
    )


def one_by_one(model: TIMGen, batch: Batch) -> torch.Tensor:
    """x_t as a sum of one lookup and one projection per feature (the unfused definition)."""
    config = model.config
    x = model.item_representation(batch.items)
    if config.interaction_features:
        x = x + model.action_embedding(batch.actions) + model.class_embedding(batch.classes)
        x = x + model.device_embedding(batch.devices) + model.platform_embedding(batch.platforms)
        x = x + model.geo_embedding(batch.geos)
        x = x + model.score_projection(batch.scores.unsqueeze(-1)) * batch.score_known.unsqueeze(-1)
    if config.time_features:
        x = x + model.time_projection(time_sinusoid(batch.days, config.embedding_size))
        x = x + model.gap_embedding(gap_bucket(batch.gaps, config.gap_buckets))
        calendar = config.calendar_features and batch.local_weekdays is not None
        weekdays = batch.local_weekdays if calendar else batch.weekdays
        angle = weekdays.float() * (2 * math.pi / 7)
        x = x + model.weekday_projection(torch.stack([angle.sin(), angle.cos()], dim=-1))
        if config.calendar_features and batch.day_phases is not None:
            x = x + model.clock_projection(model.calendar_cycles(batch))
            x = x + model.season_embedding(batch.seasons) + model.holiday_embedding(batch.holidays)
    if config.position_embedding:
        x = x + model.position_embedding(torch.arange(x.shape[1]))
    return model.dropout(model.input_norm(x)) * batch.mask.unsqueeze(-1)


@pytest.mark.parametrize("switches", [
    [], ["model.calendar_features=false"], ["model.interaction_features=false"], ["model.time_features=false"],
    ["model.position_embedding=false"],
    ["model.time_features=false", "model.interaction_features=false", "model.position_embedding=false"],
])
def test_fused_inputs_equal_one_lookup_and_projection_each_in_value_and_gradient(data, switches):
    config = load_run_config(None, SMALL + switches)
    torch.manual_seed(0)
    model = build_network(config, data)
    with torch.no_grad():  # biases start at zero-ish defaults; make them count
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_()
    batch = varied_batch(data, model)
    probe = torch.randn(*batch.items.shape, config.model.embedding_size)

    def value_and_gradients(encode):
        model.zero_grad(set_to_none=True)
        x = encode(batch)
        (x * probe).sum().backward()
        return x.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    fused, fused_grads = value_and_gradients(model.encode_inputs)
    reference, reference_grads = value_and_gradients(lambda b: one_by_one(model, b))
    torch.testing.assert_close(fused, reference, rtol=1e-5, atol=1e-5)
    assert fused_grads.keys() == reference_grads.keys() and len(fused_grads) > 3
    for name, grad in reference_grads.items():
        torch.testing.assert_close(fused_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)
    for name, table in model.named_modules():
        if isinstance(table, torch.nn.Embedding) and table.padding_idx is not None and f"{name}.weight" in fused_grads:
            assert not fused_grads[f"{name}.weight"][table.padding_idx].any()  # padding rows stay untrained


def test_selecting_every_slot_is_a_view_equal_to_boolean_indexing():
    values = torch.randn(3, 5, 4)
    every = torch.ones(3, 5, dtype=torch.bool)
    some = torch.rand(3, 5, generator=torch.Generator().manual_seed(1)) < 0.5
    assert torch.equal(selector(every)(values), values[every])
    assert selector(every)(values).data_ptr() == values.data_ptr()  # no copy
    assert torch.equal(selector(some)(values), values[some])
    assert torch.equal(selector(some)(values[..., 0]), values[..., 0][some])


@pytest.mark.parametrize("fusion", ["query", "paper"])
def test_fusing_one_modality_equals_the_softmax_over_modalities(tmp_path, fusion):
    histories, genres = drifting_histories(users=6, steps=25, seed=3)
    data = encode_dataset(read_contract(write_contract(tmp_path / "ids", histories, genres, {})))
    config = load_run_config(None, SMALL + [f"model.fusion={fusion}"])
    torch.manual_seed(0)
    model = build_network(config, data)
    assert model.fused_modalities == ("item",)
    batch = varied_batch(data, model)
    batch = dataclasses.replace(batch, mask=batch.mask & (torch.arange(batch.items.shape[1]) < 15))  # padded tails
    z = torch.randn(*batch.items.shape, config.model.embedding_size)
    fused, alpha = model.fusion(z, batch)

    vectors = model.item_embedding(batch.items)
    h, present = model.modality_attention["item"](vectors if fusion == "paper" else z, vectors, batch.mask, always=True)
    if fusion == "paper":
        h = h + vectors * present.unsqueeze(-1)
    logits = model.modality_scorer["item"](h).masked_fill(~present.unsqueeze(-1), float("-inf"))  # [B, L, 1]
    expected_alpha = torch.where(torch.isfinite(logits), torch.softmax(logits, dim=-1), torch.zeros_like(logits))
    expected = model.fuse(torch.cat([z, h * expected_alpha], dim=-1))
    torch.testing.assert_close(alpha, expected_alpha)
    torch.testing.assert_close(fused, expected)
    assert not alpha[~batch.mask].any() and alpha[batch.mask].eq(1).all()


def test_class_sets_from_the_catalogue_equal_the_sets_per_target(data):
    model = build_network(load_run_config(None, SMALL), data)
    assert len(model.class_set_offsets)
    many = torch.randint(0, model.spec.num_items, (3 * model.spec.num_items,), generator=torch.Generator().manual_seed(2))
    expected = class_set_targets(model.class_set_offsets, model.class_set_members, many, model.spec.num_classes)
    assert expected.sum() > 0
    torch.testing.assert_close(model.class_sets_of(many), expected, rtol=0, atol=0)
    torch.testing.assert_close(model.class_sets_of(many[:5]), expected[:5], rtol=0, atol=0)
