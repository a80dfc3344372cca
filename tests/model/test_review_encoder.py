"""The review text through a pretrained text encoder (``model.review_encoder``): a tiny
random-weight BERT laid out as a sentence-transformers folder, built here; the encoded texts
kept in the cache per encoder, a run's checkpoint naming its encoder, and the signal of the
texts learned through it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from support.contract import moody_histories, write_contract

transformers = pytest.importorskip("transformers")

from timgen_common.text_encoding import TextEncoder, load_text_encoder  # noqa: E402
from timgen_model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from timgen_model.config import load_run_config  # noqa: E402
from timgen_model.errors import CheckpointError, ModelConfigError  # noqa: E402
from timgen_model.generation import generate_for_user  # noqa: E402
from timgen_model.generation_context import GenerationContext  # noqa: E402
from timgen_model.run_evaluation import evaluate_run  # noqa: E402
from timgen_model.training import build_network, load_run_dataset, train  # noqa: E402

WORDS = ["loved", "it", "great", "film", ",", "wonderful", "hated", "awful", "boring"]
DIM = 16
SMALL = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=24",
         "model.interaction_features=false", "train.batch_size=16", "train.learning_rate=0.01", "train.threads=1",
         "train.seed=0"]


def tiny_sentence_bert(folder: Path, seed: int = 0) -> Path:
    """A random BERT with the moody words in its vocabulary, pooled like all-MiniLM-L6-v2 (mean, normalised)."""
    torch.manual_seed(seed)
    folder.mkdir(parents=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    config = transformers.BertConfig(vocab_size=5 + len(WORDS), hidden_size=DIM, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=2 * DIM)
    transformers.BertModel(config).save_pretrained(folder)
    transformers.BertTokenizer(str(vocab)).save_pretrained(folder)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": DIM,
                                                                  "pooling_mode_mean_tokens": True}))
    return folder


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> Path:
    return tiny_sentence_bert(tmp_path_factory.mktemp("bert") / "model")


def moody_dataset(folder: Path, *, silent_every: int = 0) -> Path:
    """The moody users; with ``silent_every`` = k, every k-th interaction has no text ("")."""
    histories, catalogue = moody_histories()
    if silent_every:
        histories.texts = [["" if k % silent_every == silent_every - 1 else t for k, t in enumerate(texts)]
                           for texts in histories.texts]
    return write_contract(folder, histories, catalogue)


def review_entries(dataset: Path) -> list[Path]:
    return sorted(dataset.glob(".cache/timgen-encoded/*/review-*"))


def split_texts(dataset: Path, split: str) -> list[str]:
    """The split's texts in row order, read straight from its Parquet files."""
    table = pq.ParquetDataset(sorted(str(p) for p in dataset.glob(f"interactions/{split}-*.parquet"))).read()
    return [text for row in table.column("texts").to_pylist() for text in row]


def test_each_text_is_encoded_once_and_an_interaction_without_text_costs_only_its_index(bert, tmp_path):
    dataset = moody_dataset(tmp_path / "ds", silent_every=3)
    config = load_run_config(None, [f"model.review_encoder=hf:{bert}"]).model
    data = load_run_dataset(dataset, None, config)
    encoder = TextEncoder(str(bert))
    for split in ("train", "test"):
        texts = split_texts(dataset, split)
        encoded = data.splits[split]
        assert len(encoded.review_index) == len(texts) == len(encoded.items)
        written = [t for t in texts if t]
        assert 0 < len(written) < len(texts)
        assert len(encoded.reviews.vectors) == len(written)  # no row for an interaction without text
        assert (np.asarray(encoded.review_index)[[not t for t in texts]] == -1).all()
        rows = np.asarray(encoded.review_index)[[bool(t) for t in texts]]
        assert rows.tolist() == list(range(len(written)))
        # float16 rows of the encoder's own vectors, text by text.
        np.testing.assert_allclose(np.asarray(encoded.reviews.vectors, np.float32), encoder.encode(written),
                                   atol=2e-3, rtol=0)
        assert encoded.reviews.encoder == encoder.key and encoded.reviews.spec == f"hf:{bert}"


def test_the_vectors_are_cached_per_encoder_and_reused(bert, tmp_path, monkeypatch):
    dataset = moody_dataset(tmp_path / "ds")
    first = load_run_dataset(dataset, None, load_run_config(None, [f"model.review_encoder=hf:{bert}"]).model)
    [entry] = review_entries(dataset)
    calls = []
    original = TextEncoder.encode
    monkeypatch.setattr(TextEncoder, "encode", lambda self, texts: calls.append(len(texts)) or original(self, texts))
    again = load_run_dataset(dataset, None, load_run_config(None, [f"model.review_encoder=hf:{bert}"]).model)
    assert calls == [] and review_entries(dataset) == [entry]  # mapped from the cache, nothing encoded
    assert np.array_equal(again.splits["train"].reviews.vectors, first.splits["train"].reviews.vectors)
    # Another model (other weights) is another entry, beside the first.
    other = tiny_sentence_bert(tmp_path / "other", seed=1)
    changed = load_run_dataset(dataset, None, load_run_config(None, [f"model.review_encoder=hf:{other}"]).model)
    assert calls and len(review_entries(dataset)) == 2
    assert changed.splits["train"].reviews.encoder != first.splits["train"].reviews.encoder
    assert not np.allclose(np.asarray(changed.splits["train"].reviews.vectors, np.float32),
                           np.asarray(first.splits["train"].reviews.vectors, np.float32), atol=1e-2)
    # The hashed default loads no encoder and writes no entry.
    calls.clear()
    load_run_dataset(moody_dataset(tmp_path / "plain"), None, load_run_config().model)
    assert calls == [] and review_entries(tmp_path / "plain") == []


def test_an_interrupted_encoding_leaves_nothing_that_opens(bert, tmp_path, monkeypatch):
    dataset = moody_dataset(tmp_path / "ds")
    config = load_run_config(None, [f"model.review_encoder=hf:{bert}"]).model
    original, calls = TextEncoder.encode, []

    def killed_after_one_batch(self, texts):
        calls.append(len(texts))
        if len(calls) > 1:
            raise KeyboardInterrupt
        return original(self, texts)

    monkeypatch.setattr(TextEncoder, "encode", killed_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        load_run_dataset(dataset, None, config)
    assert review_entries(dataset) == [] and not list(dataset.glob(".cache/timgen-encoded/*/.partial-*"))
    monkeypatch.setattr(TextEncoder, "encode", original)
    data = load_run_dataset(dataset, None, config)
    assert len(data.splits["train"].reviews.vectors) == len(split_texts(dataset, "train"))


def test_a_dataset_whose_only_signal_is_in_the_texts_is_learned_through_the_encoder(bert, tmp_path):
    dataset = moody_dataset(tmp_path / "ds")
    rmse = {}
    for reads in ("true", "false"):
        config = load_run_config(None, SMALL + ["train.epochs=8", "train.patience=8", f"model.review_text={reads}",
                                                f"model.review_encoder=hf:{bert}"])
        result = train(dataset, tmp_path / reads, config)
        rmse[reads] = result.metrics["validation"]["rmse"] + result.metrics["test"]["rmse"]
    network = build_network(config.model_copy(update={"model": config.model.model_copy(
        update={"review_text": True})}), load_run_dataset(dataset, None, config.model.model_copy(
            update={"review_text": True})))
    assert network.fused_modalities == ("item", "review") and network.review_projection.in_features == DIM
    assert not hasattr(network, "review_embedding")
    # Scores are 1 or 5 and the mood lasts 95 % of steps: about 2 a split without texts.
    assert rmse["true"] < 0.7 * rmse["false"], rmse


def test_a_run_records_its_encoder_and_evaluation_reads_the_texts_through_it(bert, tmp_path):
    dataset = moody_dataset(tmp_path / "ds", silent_every=4)
    model = tmp_path / "model"
    model.mkdir()
    for path in bert.rglob("*"):
        target = model / path.relative_to(bert)
        target.mkdir(exist_ok=True) if path.is_dir() else target.write_bytes(path.read_bytes())
    config = load_run_config(None, SMALL + ["train.epochs=2", f"model.review_encoder=hf:{model}"])
    result = train(dataset, tmp_path / "run", config)
    checkpoint = load_checkpoint(tmp_path / "run")
    assert checkpoint.config.model.review_encoder == f"hf:{model}"
    assert checkpoint.spec.review_encoder == load_text_encoder(f"hf:{model}").key and checkpoint.spec.review_dim == DIM
    assert "review_projection.weight" in checkpoint.model_state
    evaluated = evaluate_run(tmp_path / "run", "test").metrics
    assert evaluated["rmse"] == pytest.approx(result.metrics["test"]["rmse"], abs=1e-6)
    # generate reads the user's newest text through it too, in the context it is asked for.
    generated = generate_for_user(tmp_path / "run", "u3", top_k=3, context=GenerationContext(at=1_700_000_000))
    assert len(generated.recommendations) == 3
    # The same name now loads other weights: the run refuses them rather than read other vectors.
    tiny_sentence_bert(tmp_path / "changed", seed=3)
    (model / "model.safetensors").write_bytes((tmp_path / "changed" / "model.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="install the model the run was trained with"):
        evaluate_run(tmp_path / "run", "test")


def test_a_checkpoint_from_before_the_option_reads_hashed_texts(tmp_path):
    dataset = moody_dataset(tmp_path / "ds")
    train(dataset, tmp_path / "run", load_run_config(None, SMALL + ["train.epochs=1"]))
    path = tmp_path / "run" / "checkpoint.pt"
    payload = torch.load(path, weights_only=True)
    del payload["config"]["model"]["review_encoder"]
    for key in ("review_dim", "review_encoder"):
        del payload["spec"][key]
    torch.save(payload, path)
    old = load_checkpoint(path)
    assert old.config.model.review_encoder == "hashed" and old.spec.review_dim == 0 and old.spec.text_buckets
    assert evaluate_run(tmp_path / "run", "test").metrics["rmse"] is not None
    save_checkpoint(old, path)  # and it saves again with the option written out
    assert load_checkpoint(path).config.model.review_encoder == "hashed"


def test_an_unknown_review_encoder_is_a_config_error():
    with pytest.raises(ModelConfigError, match="neither 'hashed' nor 'hf:"):
        load_run_config(None, ["model.review_encoder=minilm"])
    with pytest.raises(ModelConfigError):
        load_run_config(None, ["model.review_encoder=hf:"])
