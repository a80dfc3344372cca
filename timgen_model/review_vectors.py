"""What users wrote, encoded once by a pretrained text encoder (``model.review_encoder``).

With ``model.review_encoder = "hf:all-minilm-l6-v2"`` (or any ``hf:`` folder, packaged alias
or Hub id that ``align features`` accepts) each interaction's text is encoded when the
dataset is, by :class:`timgen_common.text_encoding.TextEncoder`, the very encoder and pooling
``align features`` uses for item text, and the review modality reads those vectors through a
learned projection. ``"hashed"`` (the default) keeps the learned hashed n-grams of
:mod:`timgen_model.texts` and loads no encoder.

The vectors are kept beside the encoded dataset (:mod:`timgen_model.encoded_cache`), one
entry per encoder: ``<identity>/review-<digest of the encoder's name@version>/`` holds, per
split, ``<split>.review_index.bin`` (int64 per interaction: its row, -1 where it has no
text, so such an interaction costs nothing but that entry) and ``<split>.review_vectors.bin``
(float16 rows, only for interactions with text), and ``meta.json``. Texts are encoded batch by
batch as the split is read, and written as they come: memory holds one batch. The entry is
written under a temporary name and renamed when complete, every file's size is checked when
it is opened, so an interrupted encoding leaves nothing that opens; the next run encodes again.
A model whose files change gets a new version, hence a new entry.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_common.progress import SILENT, Progress
from timgen_model.contract import SPLITS, ContractSource, ContractTables, SplitReader, as_source, open_contract
from timgen_model.cache_folders import META, cache_roots, digest, partial_entry, publish_entry, writable_folder
from timgen_model.encoded_cache import dataset_identity
from timgen_model.encoding import EncodedDataset, ReviewVectors, flat_texts
from timgen_model.errors import ModelError
from timgen_model.fingerprint import BATCH_ROWS

HASHED = "hashed"
FORMAT = 1

ENCODE_BATCH = 64  # texts per forward pass of the encoder
_DTYPE = np.dtype(np.float16)  # halves the disk a review costs; the encoders' vectors are well inside its range
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def wants_review_vectors(review_encoder: str, review_text: bool = True,
                         masked: tuple[str, ...] | list[str] = ()) -> bool:
    """Whether a run with these settings reads texts through a pretrained encoder."""
    return review_encoder != HASHED and review_text and "review" not in masked


def _paths(folder: Path, split: str) -> tuple[Path, Path]:
    return folder / f"{split}.review_index.bin", folder / f"{split}.review_vectors.bin"


class _Sink:
    """Where a split's index and vectors go: appended to files, or kept in memory."""

    def __init__(self, folder: Path | None, split: str):
        self.files = [open(p, "wb") for p in _paths(folder, split)] if folder else None
        self.parts: tuple[list, list] = ([], [])
        self.lengths = [0, 0]

    def add(self, index: np.ndarray, vectors: np.ndarray) -> None:
        for k, values in enumerate((index, vectors)):
            if self.files:
                self.files[k].write(np.ascontiguousarray(values).data)
            else:
                self.parts[k].append(values)
            self.lengths[k] += len(values)

    def finish(self, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
        if self.files:
            for file in self.files:
                file.close()
            return None
        index = np.concatenate(self.parts[0]) if self.parts[0] else np.zeros(0, np.int64)
        vectors = np.concatenate(self.parts[1]) if self.parts[1] else np.zeros((0, dim), _DTYPE)
        return index, vectors


def _encode_split(reader: SplitReader, encoder, sink: _Sink, batch_rows: int, progress: Progress) -> None:
    """Stream the split's texts through the encoder: the index of every interaction, a vector per text."""
    written = 0
    with_texts = "texts" in reader.schema.names  # optional in the contract: nobody wrote
    for batch in reader.batches(["item_ids", *(["texts"] if with_texts else [])], batch_rows):
        interactions = int(pc.sum(pc.list_value_length(batch.column("item_ids")).fill_null(0)).as_py() or 0)
        texts = flat_texts(batch, interactions) if with_texts else pa.nulls(interactions, pa.string())
        # "" is what the contract writes where nobody wrote: no text, like null.
        has = pc.fill_null(pc.greater(pc.utf8_length(texts), 0), False).to_numpy(zero_copy_only=False)
        index = np.full(interactions, -1, np.int64)
        index[has] = written + np.arange(int(has.sum()))
        wrote = texts.filter(pa.array(has)).to_pylist()
        vectors = np.zeros((0, encoder.dim), _DTYPE)
        if wrote:
            encoded = np.concatenate([encoder.encode(wrote[k:k + ENCODE_BATCH])
                                      for k in range(0, len(wrote), ENCODE_BATCH)])
            if np.abs(encoded).max() > _FLOAT16_MAX:
                raise ModelError(f"{encoder.name} gives values beyond float16's range; it cannot encode review "
                                 "texts for the model")
            vectors = encoded.astype(_DTYPE)
        sink.add(index, vectors)
        written += len(wrote)
        progress.advance("review texts", batch.num_rows)


def _entry_name(key: str) -> str:
    return f"review-{digest(key)}"


def _open_entry(entry: Path, key: str, spec: str) -> dict[str, tuple[np.ndarray, ReviewVectors]] | None:
    """The split's index and vectors kept in ``entry``; None when there is none or it is incomplete."""
    try:
        meta = json.loads((entry / META).read_text())
        if meta.get("format") != FORMAT or meta.get("encoder") != key:
            return None
        dim, found = int(meta["dim"]), {}
        for split in SPLITS:
            (index_path, vectors_path), (n, m) = _paths(entry, split), meta["lengths"][split]
            if index_path.stat().st_size != n * 8 or vectors_path.stat().st_size != m * dim * _DTYPE.itemsize:
                return None
            index = np.memmap(index_path, np.int64, mode="r", shape=(n,)) if n else np.zeros(0, np.int64)
            vectors = np.memmap(vectors_path, _DTYPE, mode="r", shape=(m, dim)) if m else np.zeros((0, dim), _DTYPE)
            found[split] = (index, ReviewVectors(vectors, key, spec))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found


def _write_entry(source: ContractSource, encoder, entry: Path, batch_rows: int, progress: Progress) -> None:
    with partial_entry(entry) as partial:
        lengths = {}
        for split in SPLITS:
            sink = _Sink(partial, split)
            _encode_split(source.splits[split], encoder, sink, batch_rows, progress)
            sink.finish(encoder.dim)
            lengths[split] = sink.lengths
        meta = {"format": FORMAT, "encoder": encoder.key, "dim": encoder.dim, "dtype": _DTYPE.str, "lengths": lengths}
        publish_entry(partial, entry, meta)


def review_vectors(source: ContractSource | ContractTables, spec: str, *, batch_rows: int = BATCH_ROWS,
                   progress: Progress = SILENT,
                   device: str | None = None) -> dict[str, tuple[np.ndarray, ReviewVectors]]:
    """Every split's ``(review_index, ReviewVectors)`` for encoder ``spec``: from the cache when a
    complete entry for this encoder (name and version) is there, else encoded (and kept)."""
    from timgen_common.text_encoding import load_text_encoder  # transformers: seconds to import

    source = as_source(source)
    encoder = load_text_encoder(spec, device=device, batch_size=ENCODE_BATCH)
    total = sum(source.splits[s].num_rows for s in SPLITS)
    if source.cache_root is None:
        progress.start("review texts", total=total, unit="rows")
        found = {}
        for split in SPLITS:
            sink = _Sink(None, split)
            _encode_split(source.splits[split], encoder, sink, batch_rows, progress)
            index, vectors = sink.finish(encoder.dim)
            found[split] = (index, ReviewVectors(vectors, encoder.key, spec))
        progress.finish("review texts")
        return found
    identity, name = dataset_identity(source), _entry_name(encoder.key)
    roots = cache_roots(source)
    for root in roots:
        found = _open_entry(root / identity / name, encoder.key, spec)
        if found is not None:
            return found
    entry = writable_folder(roots, identity) / name
    if entry.exists():
        shutil.rmtree(entry, ignore_errors=True)  # damaged: a partial entry is never renamed into place
    progress.start("review texts", total=total, unit="rows")
    _write_entry(source, encoder, entry, batch_rows, progress)
    progress.finish("review texts")
    found = _open_entry(entry, encoder.key, spec)
    if found is None:
        raise ModelError(f"{entry}: the review vectors just written do not open; remove the folder and re-run")
    return found


def review_statistics(reviews: ReviewVectors, chunk: int = 65_536) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation of the vectors (float64 sums, a chunk at a time)."""
    total = np.zeros(reviews.dim)
    squares = np.zeros(reviews.dim)
    count = len(reviews.vectors)
    for start in range(0, count, chunk):
        part = np.asarray(reviews.vectors[start:start + chunk], np.float64)
        total += part.sum(0)
        squares += (part * part).sum(0)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean * mean, 0.0))
    return mean.astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def attach_review_vectors(data: EncodedDataset, source: ContractSource | ContractTables | str | os.PathLike[str],
                          spec: str, *, revision: str | None = None, token: str | None = None,
                          progress: Progress = SILENT) -> EncodedDataset:
    """``data`` with each split's texts encoded by ``spec`` (its ``review_index`` and ``reviews``).

    >>> data = attach_review_vectors(load_encoded("out/amazon"), "out/amazon", "hf:all-minilm-l6-v2")  # doctest: +SKIP
    """
    if isinstance(source, (str, os.PathLike)):
        source = open_contract(source, revision=revision, token=token)
    for split, (index, vectors) in review_vectors(source, spec, progress=progress).items():
        if len(index) != len(data.splits[split].items):
            raise ModelError(f"the {split} split has {len(data.splits[split].items)} interactions but its texts "
                             f"{len(index)}; the dataset changed while it was read, re-run")
        data.splits[split].review_index, data.splits[split].reviews = index, vectors
    return data
