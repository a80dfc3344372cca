"""What users wrote reaches the model: hashed n-grams per interaction, the 'review' modality,
and a dataset whose only signal is in the texts is learned from them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from support.contract import moody_histories, write_contract

from timgen_model.config import load_run_config
from timgen_model.contract import open_contract, read_contract
from timgen_model.encoded_cache import load_encoded
from timgen_model.encoding import encode_dataset
from timgen_model.texts import MAX_TOKENS, MAX_WORDS, gather_tokens, text_token_arrays
from timgen_model.training import build_network, train


def test_a_text_is_its_words_and_their_pairs_and_no_text_is_no_token():
    arrays = text_token_arrays(pa.array(["Loved it!", None, "", "loved   IT", "it loved"]), 5)
    offsets = np.r_[5, arrays["text_offsets"]] - 5
    tokens = [arrays["text_tokens"][a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]
    assert [len(t) for t in tokens] == [3, 0, 0, 3, 3]  # two words and their pair
    assert tokens[0] == tokens[3]  # case and spacing do not matter
    assert sorted(tokens[4][:2]) == sorted(tokens[0][:2]) and tokens[4][2] != tokens[0][2]  # order does
    assert all(t > 0 for t in arrays["text_tokens"])


def test_a_long_text_keeps_its_first_words():
    words = [f"w{k}" for k in range(100)]
    arrays = text_token_arrays(pa.array([" ".join(words), " ".join(words[:MAX_WORDS])]), 0)
    assert arrays["text_offsets"].tolist() == [MAX_TOKENS, 2 * MAX_TOKENS]
    assert arrays["text_tokens"][:MAX_TOKENS].tolist() == arrays["text_tokens"][MAX_TOKENS:].tolist()


def test_gather_pads_to_the_longest_text_of_the_batch():
    arrays = text_token_arrays(pa.array(["a b c", "d", ""]), 0)
    offsets = np.r_[0, arrays["text_offsets"]]
    got = gather_tokens(offsets, arrays["text_tokens"], np.array([[2, 1, 0, 0]]), np.array([[True, True, True, False]]))
    assert got.shape == (1, 4, 5)
    assert (got[0, 0] == 0).all() and got[0, 1, 0] > 0 and (got[0, 1, 1:] == 0).all()
    assert (got[0, 2] > 0).all() and (got[0, 3] == 0).all()  # a step that is not real reads nothing


@pytest.fixture(scope="module")
def moody(tmp_path_factory):
    histories, catalogue = moody_histories()
    return write_contract(tmp_path_factory.mktemp("moody") / "ds", histories, catalogue)


def test_texts_survive_the_memory_mapped_cache(moody):
    cached = load_encoded(moody)
    fresh = encode_dataset(open_contract(moody))
    for split in ("train", "test"):
        assert cached.splits[split].has_texts
        assert np.array_equal(cached.splits[split].text_offsets, fresh.splits[split].text_offsets)
        assert np.array_equal(cached.splits[split].text_tokens, fresh.splits[split].text_tokens)


def test_the_review_modality_is_fused_where_there_are_texts(moody):
    data = encode_dataset(read_contract(moody))
    with_texts = build_network(load_run_config(None, ["model.embedding_size=16"]), data)
    assert with_texts.fused_modalities == ("item", "review")
    without = build_network(load_run_config(None, ["model.embedding_size=16", "model.review_text=false"]), data)
    assert without.fused_modalities == ("item",) and not hasattr(without, "review_embedding")


def test_a_dataset_whose_only_signal_is_in_the_texts_is_learned(moody, tmp_path):
    data = encode_dataset(read_contract(moody))
    # No past scores as inputs (they would say the mood as well as the texts do).
    settings = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=24",
                "model.interaction_features=false", "train.batch_size=16", "train.learning_rate=0.01",
                "train.threads=1", "train.epochs=8", "train.patience=8", "train.seed=0"]
    rmse = {}
    for reads in ("true", "false"):
        result = train(data, tmp_path / reads, load_run_config(None, settings + [f"model.review_text={reads}"]))
        rmse[reads] = result.metrics["validation"]["rmse"] + result.metrics["test"]["rmse"]
    # Scores are 1 or 5 and the mood lasts 95 % of steps: about 2 a split without texts, 0.9 at best with.
    assert rmse["true"] < 0.7 * rmse["false"], rmse
