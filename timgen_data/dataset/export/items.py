"""The items config, read batch by batch: RecBole item lines and MMRec feature matrices (per-item state only)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from timgen_contract import embedding_column
from timgen_data.dataset.export.dataset_files import DatasetFiles
from timgen_data.dataset.export.history import natural_key
from timgen_data.dataset.export.tsv import clean

BATCH_ROWS = 4096  # item rows per batch (a row can hold several embedding vectors)


def _batches(files: DatasetFiles, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    for path in files.items:
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=list(columns))


def item_lines(files: DatasetFiles) -> list[str]:
    """RecBole ``.item`` rows (``item_id``, ``title``, ``release_year``, ``genre``) in natural id order.

    An id listed twice keeps its last row.
    """
    by_id: dict[str, str] = {}
    for batch in _batches(files, ["item_id", "title", "year", "classes"]):
        for item_id, title, year, classes in zip(*(batch.column(c).to_pylist() for c in batch.schema.names)):
            genres = " ".join(clean(g).replace(" ", "_") for g in classes or [] if clean(g))
            by_id[item_id] = "\t".join([clean(item_id), clean(title or ""), "" if year is None else str(year), genres])
    return [by_id[item_id] for item_id in sorted(by_id, key=natural_key)]


def modalities_with_vectors(files: DatasetFiles, modalities: Sequence[str]) -> list[str]:
    """The modalities whose ``<m>_emb`` column exists and holds at least one vector."""
    names = pq.read_schema(files.items[0]).names
    present = []
    for modality in modalities:
        column = embedding_column(modality)
        if column in names and any(b.column(0).null_count < b.num_rows for b in _batches(files, [column])):
            present.append(modality)
    return present


def feature_matrix(files: DatasetFiles, modality: str, rows: dict[str, int]) -> tuple[np.ndarray, int]:
    """``float32[len(rows), dim]``: row ``rows[item]`` holds the item's vector, zeros where it has none.

    ``dim`` is the length of the first vector; returns the matrix and how many of ``rows`` had no vector.
    """
    column = embedding_column(modality)
    dim = next(_vector_lengths(files, column))
    matrix = np.zeros((len(rows), dim), dtype=np.float32)
    has_vector = np.zeros(len(rows), dtype=bool)
    for batch in _batches(files, ["item_id", column]):
        vectors = batch.column(1)
        offsets = np.asarray(vectors.offsets, dtype=np.int64)
        values = vectors.values.to_numpy(zero_copy_only=False)
        valid = vectors.is_valid().to_numpy(zero_copy_only=False)
        for index, item_id in enumerate(batch.column(0).to_pylist()):
            row = rows.get(item_id)
            if row is None:
                continue
            # The item's last row counts, even when it has no vector.
            has_vector[row] = bool(valid[index])
            matrix[row] = values[offsets[index]:offsets[index + 1]] if valid[index] else 0.0
    return matrix, int(len(rows) - has_vector.sum())


def _vector_lengths(files: DatasetFiles, column: str) -> Iterator[int]:
    """The length of every vector of ``column``, in row order (rows without one are skipped)."""
    for batch in _batches(files, [column]):
        vectors = batch.column(0)
        offsets = np.asarray(vectors.offsets, dtype=np.int64)
        for index in np.flatnonzero(vectors.is_valid().to_numpy(zero_copy_only=False)):
            yield int(offsets[index + 1] - offsets[index])
