"""The rows of each split in export order (users by :func:`natural_key`), read in batches of bounded size.

``build`` writes every split with its users in that order already, so usually the shards are
simply streamed (:class:`FileOrder`). A dataset written another way (by hand, by another
tool) is first re-ordered: each row goes to a spill file of its user's rank range, chosen so
that a range holds a bounded number of positions, and ranges are then read back one at a
time and sorted in memory (:class:`SpilledOrder`) — a bucket sort on disk, in bounded memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from timgen_data.dataset.export.dataset_files import SPLITS, DatasetFiles
from timgen_data.dataset.export.history import RowSource, natural_key
from timgen_common.progress import SILENT, Progress

BATCH_ROWS = 1024  # user rows per batch read from a shard
BUCKET_POSITIONS = 2_000_000  # list positions (over all splits) per spill file range, about 80 MB in memory
MAX_BUCKETS = 256  # spill files per split at most: beyond, ranges grow rather than open files
# Every list column an exporter reads; spill files keep them all so any pass can read them back.
ROW_COLUMNS = ("user_id", "item_ids", "timestamps", "actions", "values", "scores", "is_target")


class FileOrder:
    """The shards as they are, each row keyed by its user's natural key."""

    def __init__(self, files: DatasetFiles):
        self.files = files

    def batches(self, split: str, columns: Sequence[str]) -> Iterator[tuple[pa.RecordBatch, list[Any]]]:
        for batch in _shard_batches(self.files, split, columns):
            yield batch, [natural_key(u) for u in batch.column("user_id").to_pylist()]


def in_natural_order(files: DatasetFiles) -> bool:
    """Whether every split lists each of its users once, in natural key order."""
    source = FileOrder(files)
    for split in SPLITS:
        previous = None
        for _, keys in source.batches(split, ["user_id"]):
            if previous is not None and keys and not previous < keys[0]:
                return False
            if any(not a < b for a, b in zip(keys, keys[1:])):
                return False
            previous = keys[-1] if keys else previous
    return True


class SpilledOrder:
    """Rows re-ordered by user rank through spill files of bounded size under ``folder``.

    A user's rank is its place in natural key order, ties kept in order of first appearance
    (train, validation, test, each in file order); where a split lists a user twice, its
    last row counts, as when rows were gathered into a dict.
    """

    def __init__(self, files: DatasetFiles, folder: Path, progress: Progress = SILENT):
        self.files, self.folder = files, folder
        ids, lengths = [], []
        for split in SPLITS:
            for batch in _shard_batches(files, split, ["user_id", "is_target"]):
                ids.append(batch.column("user_id"))
                lengths.append(pc.fill_null(pc.list_value_length(batch.column("is_target")), 0).to_numpy())
        row_ids = pa.concat_arrays(ids) if ids else pa.array([], pa.string())
        row_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        uniques = pc.unique(row_ids)  # in order of first appearance, which a stable sort keeps for ties
        names = uniques.to_pylist()
        in_export_order = sorted(range(len(names)), key=lambda i: natural_key(names[i]))
        rank_of_unique = np.empty(len(uniques), dtype=np.int64)
        rank_of_unique[in_export_order] = np.arange(len(uniques))
        self._row_rank = rank_of_unique[pc.index_in(row_ids, value_set=uniques).to_numpy()]
        positions = np.bincount(self._row_rank, weights=row_lengths, minlength=len(uniques)).astype(np.int64)
        per_bucket = max(BUCKET_POSITIONS, -(-int(positions.sum()) // MAX_BUCKETS), 1)
        # A rank range starts a new bucket once the positions before it fill the previous one.
        self._bucket_of_rank = (np.cumsum(positions) - positions) // per_bucket
        self.buckets = int(self._bucket_of_rank.max()) + 1 if len(uniques) else 1
        self._held: dict[str, pa.Table | None] = {}
        self._spill(progress)

    def _path(self, split: str, bucket: int) -> Path:
        return self.folder / f"{split}-{bucket:05d}.arrow"

    def _spill(self, progress: Progress) -> None:
        progress.start("export: order users", total=len(self._row_rank), unit="rows")
        first_row = 0
        for split in SPLITS:
            writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
            kept: list[pa.RecordBatch] = []
            try:
                for batch in _shard_batches(self.files, split, ROW_COLUMNS):
                    ranks = self._row_rank[first_row:first_row + batch.num_rows]
                    batch = batch.append_column("_rank", pa.array(ranks))
                    batch = batch.append_column("_row", pa.array(np.arange(first_row, first_row + batch.num_rows)))
                    first_row += batch.num_rows
                    progress.advance("export: order users", batch.num_rows)
                    if self.buckets == 1:  # everything fits one range: no spill file needed
                        kept.append(batch)
                        continue
                    buckets = self._bucket_of_rank[ranks]
                    order = np.argsort(buckets, kind="stable")
                    batch, buckets = batch.take(pa.array(order)), buckets[order]
                    bounds = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1], True])
                    for start, end in zip(bounds[:-1], bounds[1:]):
                        bucket = int(buckets[start])
                        if bucket not in writers:
                            writers[bucket] = pa.ipc.new_file(str(self._path(split, bucket)), batch.schema)
                        writers[bucket].write_batch(batch.slice(start, end - start))
            finally:
                for writer in writers.values():
                    writer.close()
            if self.buckets == 1:
                self._held[split] = pa.Table.from_batches(kept) if kept else None
        progress.finish("export: order users")

    def _bucket(self, split: str, bucket: int) -> pa.Table | None:
        if self.buckets == 1:
            return self._held.get(split)
        path = self._path(split, bucket)
        if not path.exists():
            return None
        with pa.OSFile(str(path)) as fh:
            return pa.ipc.open_file(fh).read_all()

    def batches(self, split: str, columns: Sequence[str]) -> Iterator[tuple[pa.RecordBatch, list[Any]]]:
        for bucket in range(self.buckets):
            table = self._bucket(split, bucket)
            if table is None or table.num_rows == 0:
                continue
            table = table.select([*columns, "_rank", "_row"]).sort_by([("_rank", "ascending"), ("_row", "ascending")])
            ranks = table.column("_rank").to_numpy()
            last_of_user = np.r_[ranks[1:] != ranks[:-1], True]
            if not last_of_user.all():
                table = table.filter(pa.array(last_of_user))
            for batch in table.select(list(columns) + ["_rank"]).to_batches(max_chunksize=BATCH_ROWS):
                keys = batch.column("_rank").to_pylist()
                yield batch.drop_columns(["_rank"]), keys
            del table


def _shard_batches(files: DatasetFiles, split: str, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    for path in files.interactions[split]:
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=list(columns))


@contextmanager
def rows_in_export_order(files: DatasetFiles, scratch: Path, progress: Progress = SILENT) -> Iterator[RowSource]:
    """A :class:`RowSource` over ``files`` in export order; spill files, if any, live under ``scratch`` meanwhile."""
    if in_natural_order(files):
        yield FileOrder(files)
        return
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".order-") as folder:
        yield SpilledOrder(files, Path(folder), progress)
