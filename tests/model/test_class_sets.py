"""An interaction's class set is its item's whole genre set: targets on real ML-100K, the F1s, the head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score

from timgen_data.dataset import BuildOptions, build_dataset
from timgen_model.class_sets import (
    FIRST_CLASS,
    class_prior_logits,
    class_set_loss,
    class_set_targets,
    predicted_sets,
    true_sets,
)
from timgen_model.contract import read_contract
from timgen_model.encoding import ITEM_RESERVED, encode_dataset
from timgen_model.metrics import set_counts, set_f1


def genres_in_u_item(folder) -> dict[str, set[str]]:
    """Each movie's genres read straight from the release: u.genre names the flag columns of u.item."""
    names = {}
    for line in (folder / "u.genre").read_text(encoding="latin-1").splitlines():
        if line.strip():
            name, index = line.rsplit("|", 1)
            names[int(index)] = name
    genres = {}
    for line in (folder / "u.item").read_text(encoding="latin-1").splitlines():
        if line.strip():
            fields = line.split("|")
            flags = fields[5:]
            genres[fields[0]] = {names[k] for k, flag in enumerate(flags) if flag == "1"}
    return genres


@pytest.fixture(scope="module")
def ml100k(ml100k_labelled, tmp_path_factory):
    out = tmp_path_factory.mktemp("sets") / "ml-100k"
    build_dataset(ml100k_labelled, out, BuildOptions(min_interactions=5))
    return encode_dataset(read_contract(out))


def test_every_ml100k_interaction_targets_its_movies_whole_genre_set(ml100k, shared_data):
    genres = genres_in_u_item(shared_data / "ml-100k")
    data, tokens = ml100k, ml100k.vocabularies.classes.tokens
    items = data.vocabularies.items.tokens
    catalogue = data.catalogue
    split = data.splits["test"]
    targets = split.items[split.is_target]
    assert len(targets) == 943
    sets = true_sets(catalogue.class_set_offsets, catalogue.class_set_members, targets, len(tokens))
    for item, row in zip(targets, sets):
        assert {tokens[c] for c in np.flatnonzero(row)} == genres[items[item]], items[item]
    assert (sets.sum(1) > 1).mean() > 0.5  # most ML-100K targets have several genres: sets matter here
    # Every movie of the catalogue, not only the test targets.
    everyone = np.arange(len(ITEM_RESERVED), len(items))
    all_sets = true_sets(catalogue.class_set_offsets, catalogue.class_set_members, everyone, len(tokens))
    assert {items[i]: {tokens[c] for c in np.flatnonzero(r)} for i, r in zip(everyone, all_sets)} == {
        items[i]: genres[items[i]] for i in everyone}


def test_set_f1_equals_sklearns_on_random_sets():
    rng = np.random.default_rng(16)
    for _ in range(20):
        truth = rng.random((40, 7)) < 0.3
        predicted = rng.random((40, 7)) < 0.4
        truth[:, 6] = False  # a class no true set has: left out of the macro mean
        counts = set_counts(predicted[:15], truth[:15]) + set_counts(predicted[15:], truth[15:])  # two batches
        micro, macro = set_f1(counts)
        occurring = np.flatnonzero(truth.any(0))
        assert micro == pytest.approx(f1_score(truth, predicted, average="micro", zero_division=0))
        assert macro == pytest.approx(f1_score(truth, predicted, average="macro", labels=occurring, zero_division=0))


def test_set_targets_loss_and_predictions_by_hand():
    offsets, members = torch.tensor([0, 0, 0, 0, 2, 3, 3]), torch.tensor([2, 4, 3])  # items 3: {2, 4}, 4: {3}, 5: {}
    targets = class_set_targets(offsets, members, torch.tensor([3, 4, 5, 3]), 5)
    assert targets.tolist() == [[0, 0, 1, 0, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 0], [0, 0, 1, 0, 1]]
    logits = torch.tensor([[9.0, 9.0, 2.0, -1.0, 0.5]] * 4)
    # Summed over the real classes (2, 3, 4), averaged over the three targets with a set.
    by_hand = np.mean([np.log1p(np.exp(-2.0)) + np.log1p(np.exp(-1.0)) + np.log1p(np.exp(-0.5)),
                       np.log1p(np.exp(2.0)) + np.log1p(np.exp(1.0)) + np.log1p(np.exp(0.5)),
                       np.log1p(np.exp(-2.0)) + np.log1p(np.exp(-1.0)) + np.log1p(np.exp(-0.5))])
    assert float(class_set_loss(logits, targets)) == pytest.approx(by_hand, rel=1e-6)
    assert predicted_sets(logits[:1], "set").tolist() == [[False, False, True, False, True]]
    assert predicted_sets(logits[:1], "primary").tolist() == [[False, False, True, False, False]]
    unsure = torch.tensor([[9.0, 9.0, -2.0, -0.5, -1.0]])  # no class passes 0.5: the most likely one still counts
    assert predicted_sets(unsure, "set").tolist() == [[False, False, False, True, False]]


def test_class_prior_is_the_base_rate_of_each_class_among_training_targets():
    offsets, members = np.array([0, 0, 0, 0, 2, 3, 3]), np.array([2, 4, 3])  # items 3: {2, 4}, 4: {3}, 5: {}
    items = np.array([3, 3, 4, 5, 4, 3, 4])
    is_target = np.array([1, 1, 1, 1, 0, 1, 1], bool)  # targets: item 3 three times, 4 twice, 5 (no set) once
    logits = class_prior_logits(offsets, members, items, is_target, 5, chunk=2)
    rates = 1 / (1 + np.exp(-logits[FIRST_CLASS:]))
    np.testing.assert_allclose(rates, [3 / 5, 2 / 5, 3 / 5], rtol=1e-5)  # of the five targets with a set
    assert (logits[:FIRST_CLASS] <= logits[FIRST_CLASS:].min()).all()
    assert class_prior_logits(offsets, members, np.array([5, 5]), np.array([1, 1], bool), 5) is None


def test_a_fresh_set_head_starts_at_the_base_rates_so_its_loss_starts_low(ml100k):
    from timgen_model.config import load_run_config
    from timgen_model.training import build_network

    config = load_run_config(None, ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8"])
    network = build_network(config, ml100k)
    train = ml100k.splits["train"]
    targets = torch.as_tensor(np.asarray(train.items)[np.asarray(train.is_target, bool)][:2000], dtype=torch.long)
    sets = network.class_sets_of(targets)
    at_prior = class_set_loss(network.class_head.bias.detach().expand(len(targets), -1), sets)
    at_zero = class_set_loss(torch.zeros(len(targets), network.spec.num_classes), sets)
    rates = sets[:, FIRST_CLASS:].mean(0).clamp(1e-4, 1 - 1e-4)
    entropy = -(rates * rates.log() + (1 - rates) * (1 - rates).log()).sum()
    assert float(at_prior) == pytest.approx(float(entropy), rel=0.05)  # the best a constant can do
    assert float(at_zero) > 2 * float(at_prior)
