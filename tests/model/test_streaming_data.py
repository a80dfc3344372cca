"""Encoding streams batch by batch and training reads memory-mapped arrays, with the same
result as the whole-table pipeline it replaced (``reference_pipeline``): the same arrays,
fingerprint, windows, batches and training run. The cache is reused, rebuilt when the
dataset changes, and never trusted when a run was killed while writing it."""

from __future__ import annotations

import subprocess
from dataclasses import fields
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import reference_pipeline as reference
import torch
from support.contract import drifting_histories, write_contract

from timgen_model import encoded_cache, training
from timgen_model.batches import SplitTensors, evaluation_windows, training_windows
from timgen_model.config import load_run_config
from timgen_model.contract import SPLITS, open_contract, read_contract
from timgen_model.encoded_cache import load_encoded
from timgen_model.encoding import ARRAYS, EncodedDataset, encode_dataset
from timgen_model.errors import DatasetError
from timgen_model.training import train
from timgen_model.vocab import Vocabulary

LISTS = ("item_ids", "timestamps", "actions", "devices", "platforms", "geos", "scores", "classes", "values",
         "is_target")
TINY = ["model.embedding_size=16", "model.feedforward_size=32", "model.latent_size=8", "model.max_len=8",
        "model.num_heads=2", "train.batch_size=8", "train.learning_rate=0.01", "train.threads=1", "train.epochs=1"]


def varied_contract(folder: Path, seed: int = 5, users: int = 30) -> Path:
    """A contract with what real data has: rows of every length (empty ones too), unknown
    context (""/null), missing scores, items unseen in train, several shards and row groups."""
    histories, genres = drifting_histories(users=users, steps=12, seed=seed)
    write_contract(folder, histories, genres)
    rng = np.random.default_rng(seed)
    schema = pq.read_schema(folder / "interactions" / "train-00000-of-00001.parquet")
    for split in SPLITS:
        path = folder / "interactions" / f"{split}-00000-of-00001.parquet"
        rows = pq.read_table(path).to_pylist()
        path.unlink()
        for row in rows:
            n = int(rng.integers(0, len(row["item_ids"]) + 1))
            for column in LISTS:
                row[column] = row[column][:n]
            row["actions"] = rng.choice(["rate", "view", "click"], n).tolist()
            row["devices"] = [[None, "", "web", "app"][k] for k in rng.integers(0, 4, n)]
            row["geos"] = [["", "fr", "de"][k] for k in rng.integers(0, 3, n)]
            row["scores"] = [None if rng.random() < 0.2 else s for s in row["scores"]]
            row["classes"] = ["" if rng.random() < 0.1 else c for c in row["classes"]]
            # What users wrote: nothing (null, "") or a few words; now and then no list at all.
            row["texts"] = None if rng.random() < 0.1 else [
                [None, "", "loved it", "not for me, too long"][k] for k in rng.integers(0, 4, n)]
            if split == "test" and n and rng.random() < 0.3:
                row["item_ids"][-1] = f"unseen{int(rng.integers(1000))}"
        table = pa.Table.from_pylist(rows, schema=schema)
        half = len(rows) // 2
        for shard, part in enumerate((table.slice(0, half), table.slice(half))):
            pq.write_table(part, folder / "interactions" / f"{split}-{shard:05d}-of-00002.parquet", row_group_size=4)
    return folder


@pytest.fixture(scope="module")
def varied(tmp_path_factory) -> Path:
    return varied_contract(tmp_path_factory.mktemp("varied") / "ds")


def assert_same_encoding(data: EncodedDataset, expected: EncodedDataset) -> None:
    assert data.vocabularies == expected.vocabularies
    assert data.fingerprint == expected.fingerprint
    assert (data.score_mean, data.score_std, data.score_min, data.score_max) == (
        expected.score_mean, expected.score_std, expected.score_min, expected.score_max)
    assert data.catalogue.titles == expected.catalogue.titles
    assert np.array_equal(data.catalogue.classes, expected.catalogue.classes)
    for name in SPLITS:
        got, want = data.splits[name], expected.splits[name]
        assert list(got.user_ids) == list(want.user_ids), name
        for array in ARRAYS:
            assert np.array_equal(getattr(got, array), getattr(want, array), equal_nan=array == "scores"), (name, array)


@pytest.mark.parametrize("batch_rows", [1, 7, 1024])
def test_streaming_encoding_equals_whole_table_encoding(varied, batch_rows):
    expected = reference.encode_dataset(read_contract(varied))
    data = encode_dataset(open_contract(varied), batch_rows=batch_rows)
    assert_same_encoding(data, expected)
    unseen = data.splits["test"].items == 1  # UNK: items that train never saw
    assert unseen.any() and (data.splits["train"].devices == 0).any()  # the contract exercises both


def test_cache_is_memory_mapped_equal_and_reused(tmp_path, monkeypatch):
    folder = varied_contract(tmp_path / "ds")
    expected = reference.encode_dataset(read_contract(folder))
    data = load_encoded(folder, batch_rows=3)
    assert_same_encoding(data, expected)
    assert isinstance(data.splits["train"].items, np.memmap)
    assert data.splits["train"].items.dtype == np.int8  # 48 items + 3 reserved fit one byte
    entries = list((folder / ".cache" / "timgen-encoded").glob("*/own"))
    assert len(entries) == 1

    def no_encoding(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(encoded_cache, "encode_split", no_encoding)
    assert_same_encoding(load_encoded(folder), expected)
    # A checkpoint's vocabularies equal to the dataset's own reuse the same entry.
    assert_same_encoding(load_encoded(folder, expected.vocabularies), expected)


def test_cache_is_rebuilt_when_the_dataset_changes(tmp_path):
    folder = varied_contract(tmp_path / "ds", seed=5)
    first = load_encoded(folder)
    other = varied_contract(tmp_path / "other", seed=6)
    for shard in (folder / "interactions").glob("*.parquet"):
        shard.write_bytes((other / "interactions" / shard.name).read_bytes())
    again = load_encoded(folder)
    assert again.fingerprint != first.fingerprint
    assert_same_encoding(again, reference.encode_dataset(read_contract(folder)))
    assert len(list((folder / ".cache" / "timgen-encoded").iterdir())) == 1  # the stale entry is gone


def test_an_entry_left_half_written_is_not_trusted(tmp_path):
    folder = varied_contract(tmp_path / "ds")
    expected = reference.encode_dataset(read_contract(folder))
    load_encoded(folder)
    [entry] = (folder / ".cache" / "timgen-encoded").glob("*/own")
    items = entry / "train.items.bin"
    items.write_bytes(items.read_bytes()[: items.stat().st_size // 2])
    # What a killed writer leaves: a partial folder named after a process that is gone.
    dead = subprocess.Popen(["true"])
    dead.wait()
    partial = entry.parent / f".partial-own-{dead.pid}-0000"
    partial.mkdir()
    (partial / "train.items.bin").write_bytes(b"\0" * 5)
    assert_same_encoding(load_encoded(folder), expected)
    assert not partial.exists()


def test_an_interrupted_encoding_leaves_no_entry(tmp_path, monkeypatch):
    folder = varied_contract(tmp_path / "ds")
    calls = []

    def interrupted_add(self, arrays, user_ids):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return original(self, arrays, user_ids)

    original = encoded_cache.FileSink.add
    monkeypatch.setattr(encoded_cache.FileSink, "add", interrupted_add)
    with pytest.raises(KeyboardInterrupt):
        load_encoded(folder, batch_rows=2)
    monkeypatch.setattr(encoded_cache.FileSink, "add", original)
    [identity] = (folder / ".cache" / "timgen-encoded").iterdir()
    assert list(identity.iterdir()) == []
    assert_same_encoding(load_encoded(folder), reference.encode_dataset(read_contract(folder)))


def test_other_vocabularies_get_their_own_entry(varied):
    tables = read_contract(varied)
    own = reference.build_vocabularies(tables)
    items = Vocabulary(own.items.tokens + ("zz-extra",), own.items.reserved)
    vocab = type(own)(**{**{f.name: getattr(own, f.name) for f in fields(own)}, "items": items})
    assert_same_encoding(load_encoded(varied, vocab), reference.encode_dataset(tables, vocab))
    assert len(list((varied / ".cache" / "timgen-encoded").glob("*/vocab-*"))) == 1


def test_an_unwritable_dataset_folder_caches_in_the_user_cache(tmp_path, monkeypatch):
    folder = varied_contract(tmp_path / "ds")
    (folder / ".cache").write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    data = load_encoded(folder)
    assert isinstance(data.splits["test"].items, np.memmap)
    assert list((tmp_path / "user-cache" / "timgen-data" / "encoded").glob("*/*/own/meta.json"))
    assert_same_encoding(data, reference.encode_dataset(read_contract(folder)))


def test_rows_whose_lists_differ_in_length_are_a_dataset_error(tmp_path):
    folder = varied_contract(tmp_path / "ds")
    path = sorted((folder / "interactions").glob("train-*.parquet"))[0]
    rows = pq.read_table(path).to_pylist()
    row = next(r for r in rows if r["item_ids"])
    row["scores"] = row["scores"] + [1.0]
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(path)), path)
    with pytest.raises(DatasetError, match="scores and item_ids lists differ"):
        encode_dataset(open_contract(folder))


@pytest.mark.parametrize("max_len", [2, 3, 5, 16])
def test_windows_and_batches_equal_the_padded_reference(varied, max_len):
    expected = reference.encode_dataset(read_contract(varied))
    data = load_encoded(varied)
    for name in SPLITS:
        split, old_split = data.splits[name], expected.splits[name]
        new_tensors = SplitTensors(split, data.score_mean, data.score_std)
        old_tensors = reference.SplitTensors(old_split, expected.score_mean, expected.score_std)
        for new_windows, old_windows in (
            (training_windows(split, max_len), reference.training_windows(old_split, max_len)),
            (evaluation_windows(split, max_len), reference.evaluation_windows(old_split, max_len)),
            (evaluation_windows(split, max_len, chunk_positions=7), reference.evaluation_windows(old_split, max_len)),
        ):
            assert len(new_windows) == len(old_windows) > 0
            dense = new_windows.take(np.arange(len(new_windows)))
            for field in ("inputs", "targets", "evaluate", "rows"):
                assert np.array_equal(getattr(dense, field), getattr(old_windows, field)), (name, field)
            order = np.random.default_rng(max_len).permutation(len(new_windows))
            for batch in np.array_split(order, 3):
                got, want = new_tensors.batch(new_windows.take(batch)), old_tensors.batch(old_windows.take(batch))
                for field in fields(got):
                    a, b = getattr(got, field.name), getattr(want, field.name)
                    if a is None and b is None:  # an optional input neither has (review vectors)
                        continue
                    assert a.dtype == b.dtype and torch.equal(a, b), (name, field.name)


def test_training_from_the_cache_equals_training_from_the_reference_encoding(varied, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "write_run_reports", lambda *args: {})  # the PNGs are not compared
    config = load_run_config(None, TINY)
    from_cache = train(varied, tmp_path / "cache", config)
    from_reference = train(reference.encode_dataset(read_contract(varied)), tmp_path / "reference", config)
    assert from_cache.history == from_reference.history
    assert from_cache.metrics["test"] == from_reference.metrics["test"]
    assert from_cache.metrics["dataset"] == {"source": str(varied), "fingerprint": reference.encode_dataset(
        read_contract(varied)).fingerprint}
