"""Diversity across draws of ℓ: the metrics on hand-computed cases, and ``evaluate`` reporting them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from support.contract import drifting_histories, write_contract

from timgen_model.config import load_run_config
from timgen_model.contract import read_contract
from timgen_model.encoding import encode_dataset
from timgen_model.evaluation import Diversity, evaluate_network
from timgen_model.metrics import distinct_items, intra_list_distance
from timgen_model.model import DataSpec, TIMGen


def test_distinct_items_counts_items_across_a_targets_lists():
    lists = np.array([
        [[1, 2, 3], [1, 2, 3]],  # both draws the same: 3 items
        [[1, 2, 3], [4, 5, 6]],  # no item in both: 6
        [[1, 2, 3], [3, 2, 7]],  # 1, 2, 3, 7: 4
    ])
    assert distinct_items(lists) == pytest.approx((3 + 6 + 4) / 3)
    assert distinct_items(np.zeros((0, 2, 3), int)) is None


def test_intra_list_distance_is_the_mean_cosine_distance_of_pairs():
    vectors = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]])
    # List [0, 1, 2]: cos(0,1) = 0, cos(0,2) = cos(1,2) = 1/√2, so the distances are 1, 1 − 1/√2, 1 − 1/√2.
    first = (1 + 2 * (1 - 1 / math.sqrt(2))) / 3
    # List [0, 3]: opposite vectors, distance 2.
    assert intra_list_distance(np.array([[0, 1, 2]]), vectors) == pytest.approx(first)
    assert intra_list_distance(np.array([[0, 3]]), vectors) == pytest.approx(2.0)
    assert intra_list_distance(np.array([[0, 0]]), vectors) == pytest.approx(0.0, abs=1e-7)
    assert intra_list_distance(np.zeros((1, 1), int), vectors) is None


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    histories, genres = drifting_histories(users=30, steps=12, seed=2)
    data = encode_dataset(read_contract(write_contract(tmp_path_factory.mktemp("div") / "ds", histories, genres)))
    config = load_run_config(None, ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8",
                                    "model.max_len=16"]).model
    spec = DataSpec(num_items=len(data.vocabularies.items), num_actions=len(data.vocabularies.actions),
                    num_devices=len(data.vocabularies.devices), num_platforms=len(data.vocabularies.platforms),
                    num_geos=len(data.vocabularies.geos), num_classes=len(data.vocabularies.classes),
                    score_mean=data.score_mean, score_std=data.score_std)
    torch.manual_seed(0)
    model = TIMGen(config, spec)
    with torch.no_grad():
        model.sigma.bias.fill_(0.5)  # an untrained σ is tiny; make the draws spread
    return model, data


def test_evaluate_reports_diversity_next_to_accuracy(model_and_data):
    model, data = model_and_data
    plain = evaluate_network(model, data, "test")
    still = evaluate_network(model, data, "test", diversity=Diversity(samples=4, temperature=0.0))
    spread = evaluate_network(model, data, "test", diversity=Diversity(samples=4, temperature=3.0, seed=1))
    again = evaluate_network(model, data, "test", diversity=Diversity(samples=4, temperature=3.0, seed=1))
    assert "distinct@10" not in plain.metrics
    assert {k: still.metrics[k] for k in plain.metrics} == plain.metrics  # accuracy untouched
    assert still.metrics["distinct@10"] == 10.0  # every draw is μ: one list of 10
    assert still.metrics["hr@10_unseen_sampled"] == plain.metrics["hr@10_unseen"]  # μ's own list
    assert 10.0 < spread.metrics["distinct@10"] <= 40.0
    assert 0.0 < spread.metrics["ild@10"] <= 2.0 and spread.metrics["samples"] == 4
    assert spread.metrics == again.metrics
