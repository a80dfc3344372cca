"""Encoded datasets kept as memory-mapped files, so training reads datasets larger than memory.

The first run on a dataset streams its splits through the encoder into one flat file per
array (vocabulary indices in the narrowest integer type that fits) and an Arrow file of user
ids, with the vocabularies, score statistics and fingerprint in ``meta.json``. Later runs map
the files (``numpy.memmap``): the operating system pages in what a batch reads and drops it
again under memory pressure, so no run holds a whole split.

Where: ``<dataset>/.cache/timgen-encoded/`` for a local folder (``build`` replaces it with
the folder; ``publish`` leaves dot-folders out), the ``datasets`` cache for a Hub dataset,
and the user's cache folder when the dataset folder cannot be written. An entry is keyed by
the dataset's files (names, sizes, modification times) and this format's version, so a
changed dataset is encoded afresh and the stale entry removed. An entry is written under a
temporary name and renamed when complete, and every file's size is checked when it is
opened, so what a killed run left behind is never trusted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa

from timgen_common.progress import SILENT, Progress
from timgen_model.cache_folders import META, cache_roots, digest, partial_entry, publish_entry, writable_folder
from timgen_model.contract import SPLITS, ContractSource, open_contract
from timgen_model.encoding import (
    ARRAYS, EncodedDataset, EncodedSplit, UserIds, Vocabularies, assemble, build_vocabularies, encode_dataset,
    encode_split, score_statistics,
)
from timgen_model.errors import ModelError
from timgen_model.fingerprint import BATCH_ROWS, fingerprint

FORMAT = 4  # 2: the calendar arrays (utc_offsets, holidays); 3: the texts' hashed n-grams (text_offsets, text_tokens); 4: the class vocabulary holds every class of the items' class sets
OWN = "own"  # the entry encoded with the dataset's own vocabularies


def array_dtypes(vocab: Vocabularies) -> dict[str, np.dtype]:
    fixed = {"offsets": np.int64, "timestamps": np.int64, "scores": np.float32, "values": np.float32,
             "is_target": np.bool_, "utc_offsets": np.int16, "holidays": np.int8, "text_offsets": np.int64,
             "text_tokens": np.int32}
    return {name: np.dtype(fixed[name]) if name in fixed else getattr(vocab, name).index_dtype for name in ARRAYS}


def _array_path(folder: Path, split: str, name: str) -> Path:
    return folder / f"{split}.{name}.bin"


def _users_path(folder: Path, split: str) -> Path:
    return folder / f"{split}.users.arrow"


class FileSink:
    """Appends a split's batches to one flat file per array and an Arrow file of user ids."""

    def __init__(self, folder: Path, split: str, dtypes: dict[str, np.dtype]):
        self.folder, self.split, self.dtypes = folder, split, dtypes
        self.files = {name: open(_array_path(folder, split, name), "wb") for name in ARRAYS}
        self.lengths = dict.fromkeys(ARRAYS, 0)
        self.users = pa.ipc.new_file(str(_users_path(folder, split)), pa.schema([("user_id", pa.string())]))

    def add(self, arrays: dict[str, np.ndarray], user_ids: pa.Array) -> None:
        for name, values in arrays.items():
            self.files[name].write(np.ascontiguousarray(values, dtype=self.dtypes[name]).data)
            self.lengths[name] += len(values)
        if len(user_ids):
            self.users.write_batch(pa.record_batch([user_ids], names=["user_id"]))

    def finish(self) -> EncodedSplit:
        for file in self.files.values():
            file.close()
        self.users.close()
        return _open_split(self.folder, self.split, {n: [self.dtypes[n].str, k] for n, k in self.lengths.items()})


def _open_split(folder: Path, split: str, layout: dict[str, list]) -> EncodedSplit:
    """Map a split's files; ValueError when one is missing or not the size ``layout`` says."""
    arrays = {}
    for name in ARRAYS:
        dtype, length = np.dtype(layout[name][0]), int(layout[name][1])
        path = _array_path(folder, split, name)
        if path.stat().st_size != length * dtype.itemsize:
            raise ValueError(f"{path} is not {length} values long")
        # Copy-on-write: the arrays behave as ordinary writable ones, the files never change.
        arrays[name] = np.memmap(path, dtype=dtype, mode="c", shape=(length,)) if length else np.zeros(0, dtype)
    users = pa.ipc.open_file(pa.memory_map(str(_users_path(folder, split)))).read_all().column("user_id")
    if len(users) + 1 != len(arrays["offsets"]):
        raise ValueError(f"{folder}: {split} has {len(users)} user ids for {len(arrays['offsets']) - 1} rows")
    return EncodedSplit(user_ids=UserIds(users), **arrays)


def _open_entry(entry: Path, source: ContractSource, vocabularies: Vocabularies | None) -> EncodedDataset | None:
    """The dataset kept in ``entry``; None when there is none, it is incomplete, or it was
    encoded with other vocabularies than ``vocabularies``."""
    try:
        meta = json.loads((entry / META).read_text())
        if meta.get("format") != FORMAT:
            return None
        vocab = Vocabularies.from_json(meta["vocabularies"])
        if vocabularies is not None and vocab != vocabularies:
            return None
        splits = {split: _open_split(entry, split, meta["arrays"][split]) for split in SPLITS}
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return None
    return assemble(source, vocab, splits, meta["score_statistics"], meta["fingerprint"])


def _write_entry(source: ContractSource, vocab: Vocabularies, entry: Path, batch_rows: int,
                 progress: Progress) -> None:
    with partial_entry(entry) as partial:
        dtypes = array_dtypes(vocab)
        progress.start("encode", total=sum(source.splits[s].num_rows for s in SPLITS), unit="rows")
        splits = {name: encode_split(source.splits[name], vocab, FileSink(partial, name, dtypes),
                                     batch_rows=batch_rows, progress=progress) for name in SPLITS}
        progress.finish("encode")
        meta = {
            "format": FORMAT,
            "source": source.source,
            "fingerprint": fingerprint(source, batch_rows=batch_rows, progress=progress),
            "score_statistics": score_statistics(splits["train"].scores),
            "arrays": {name: {a: [dtypes[a].str, len(getattr(split, a))] for a in ARRAYS}
                       for name, split in splits.items()},
            "vocabularies": vocab.to_json(),
        }
        del splits  # unmap before the rename
        publish_entry(partial, entry, meta)


def dataset_identity(source: ContractSource) -> str:
    """The folder name of this version of the dataset's files under this format: entries of an
    earlier version (or format) are leftovers, removed when an entry is next written."""
    return digest(f"{FORMAT}\0{source.identity}")


def load_encoded(dataset: str | os.PathLike[str], vocabularies: Vocabularies | None = None, *,
                 revision: str | None = None, token: str | None = None, batch_rows: int = BATCH_ROWS,
                 progress: Progress = SILENT) -> EncodedDataset:
    """The dataset encoded (with ``vocabularies``, e.g. a checkpoint's, or its own), its splits
    memory-mapped from the cache; encoded and cached first when no complete entry exists.

    >>> data = load_encoded("out/ml-25m")  # doctest: +SKIP
    >>> data.splits["train"].items[:3]  # doctest: +SKIP
    memmap([ 415, 1032,   87], dtype=int32)
    """
    source = open_contract(dataset, revision=revision, token=token)
    if source.cache_root is None:
        return encode_dataset(source, vocabularies, batch_rows=batch_rows, progress=progress)
    identity = dataset_identity(source)
    names = [OWN] + ([f"vocab-{digest(json.dumps(vocabularies.to_json()))}"] if vocabularies else [])
    roots = cache_roots(source)
    for root in roots:
        for name in names:
            found = _open_entry(root / identity / name, source, vocabularies)
            if found is not None:
                return found
    own = build_vocabularies(source, batch_rows=batch_rows, progress=progress)
    vocab, name = (own, OWN) if vocabularies in (None, own) else (vocabularies, names[-1])
    entry = writable_folder(roots, identity) / name
    if entry.exists() and _open_entry(entry, source, vocab) is None:
        shutil.rmtree(entry, ignore_errors=True)  # damaged: a partial entry is never renamed into place
    if not entry.exists():
        _write_entry(source, vocab, entry, batch_rows, progress)
    found = _open_entry(entry, source, vocab)
    if found is None:
        raise ModelError(f"{entry}: the encoded dataset just written does not open; remove the folder and re-run")
    return found
