"""A built dataset back to flat interactions, each tagged with the split that evaluates it, a few users at a time.

The contract stores one row per user and split, each row a prefix of the user's history
ending at its last target. Exporters need the opposite view: every interaction once, in
chronological order per user, with the split in which it is a target. The longest row of a
user holds the whole history; the split of a position is the first split (train, validation,
test) whose row marks that position as a target.

The three splits are read side by side, as three streams of rows in the same user order
(see :mod:`.user_order`), and merged on that order: a user's rows are lined up as they come,
so only the rows of the batches being read are in memory, never the whole dataset.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.dataset.export.dataset_files import SPLITS
from timgen_data.errors import NothingToDoError

UNTARGETED = len(SPLITS)  # a position no split evaluates (context before a time cut); exported as train


def natural_key(value: str) -> tuple[int, int | str]:
    """Numeric ids in numeric order, before any other id, so "2" comes before "10"."""
    return (0, int(value)) if value.isdigit() else (1, value)


class RowSource(Protocol):
    """Rows of one split as record batches, each with the sort key of every row's user, keys increasing."""

    def batches(self, split: str, columns: Sequence[str]) -> Iterator[tuple[pa.RecordBatch, list[Any]]]:
        ...


@dataclass
class HistoryChunk:
    """Consecutive users' whole histories, flattened: one entry of ``columns`` per interaction."""

    user_ids: pa.Array  # one per user, in export order
    lengths: np.ndarray  # interactions per user (0 for a user whose rows are all empty)
    columns: dict[str, pa.Array]  # item_ids → item id, timestamps → timestamp, … one value per interaction
    splits: np.ndarray | None  # per interaction, the index in SPLITS of the split that evaluates it
    untargeted: int  # positions no split evaluates (their ``splits`` entry says train)
    rows_read: int  # dataset rows (user × split) the chunk consumed

    @property
    def interactions(self) -> int:
        return int(self.lengths.sum())

    def user_of_interaction(self) -> np.ndarray:
        """For each interaction, the index of its user in ``user_ids``."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)


def read_histories(source: RowSource, columns: Sequence[str], *, with_splits: bool = True) -> Iterator[HistoryChunk]:
    """Merge the three splits of ``source`` into users' histories: the given list columns, flattened.

    A chunk ends where a batch of any split ends, so it never holds more users than one batch.
    """
    wanted = ["user_id", "item_ids", *(c for c in columns if c != "item_ids")] + (["is_target"] if with_splits else [])
    cursors = [_Cursor(source.batches(split, wanted)) for split in SPLITS]
    picks: list[list[int]] = []
    while True:
        live = [c.keys[c.row] for c in cursors if c.batch is not None]
        if not live:
            return
        key = min(live)
        pick = [-1] * len(SPLITS)
        batch_done = False
        for s, cursor in enumerate(cursors):
            if cursor.batch is not None and cursor.keys[cursor.row] == key:
                pick[s] = cursor.row
                cursor.row += 1
                batch_done |= cursor.row == cursor.batch.num_rows
        picks.append(pick)
        if batch_done:
            yield _flatten(cursors, np.array(picks, dtype=np.int64), columns, with_splits)
            picks = []
            for cursor in cursors:
                cursor.next_batch_if_done()


class _Cursor:
    """The current batch of one split, the row to read next, and per-batch arrays computed once."""

    def __init__(self, batches: Iterator[tuple[pa.RecordBatch, list[Any]]]):
        self._batches = batches
        self.batch: pa.RecordBatch | None = None
        self.keys: list[Any] = []
        self.row = 0
        self._cache: dict[str, Any] = {}
        self._load()

    def _load(self) -> None:
        self.batch, self._cache = None, {}
        for batch, keys in self._batches:
            if batch.num_rows:
                self.batch, self.keys, self.row = batch, keys, 0
                return

    def next_batch_if_done(self) -> None:
        if self.batch is not None and self.row == self.batch.num_rows:
            self._load()

    def offsets(self, column: str) -> np.ndarray:
        """Offsets of a list column into its values (``offsets[r]:offsets[r + 1]`` is row r)."""
        if ("offsets", column) not in self._cache:
            self._cache[("offsets", column)] = np.asarray(self.batch.column(column).offsets, dtype=np.int64)
        return self._cache[("offsets", column)]

    def targets(self) -> np.ndarray:
        """``is_target`` values as booleans (a null mark is no target)."""
        if "targets" not in self._cache:
            values = pc.fill_null(self.batch.column("is_target").values, False)
            self._cache["targets"] = values.to_numpy(zero_copy_only=False)
        return self._cache["targets"]


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(s, s + c) for s, c in zip(starts, counts)])`` without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    run_offsets = np.cumsum(counts) - counts
    return np.repeat(starts - run_offsets, counts) + np.arange(total, dtype=np.int64)


def _flatten(cursors: list[_Cursor], picks: np.ndarray, columns: Sequence[str], with_splits: bool) -> HistoryChunk:
    users = len(picks)
    everyone = np.arange(users)
    # Each user's row lengths per split; -1 where the user has no row, so any present row is longer.
    lengths = np.full(picks.shape, -1, dtype=np.int64)
    for s, cursor in enumerate(cursors):
        present = picks[:, s] >= 0
        if present.any():
            offsets = cursor.offsets("item_ids")
            rows = picks[present, s]
            lengths[present, s] = offsets[rows + 1] - offsets[rows]
    full = np.argmax(lengths, axis=1)  # the longest row; the earliest split on a tie
    length = lengths[everyone, full]
    full_row = picks[everyone, full]
    out = {column: _take_positions(cursors, column, full, full_row, length) for column in columns}
    if "timestamps" in out and out["timestamps"].null_count:
        raise NothingToDoError("an interaction has no timestamp; the dataset does not follow the timgen-data "
                               "dataset contract (rebuild it with `timgen-data build`)")
    user_ids = _take_users(cursors, full, full_row)
    splits, untargeted = (_splits(cursors, picks, length) if with_splits else (None, 0))
    return HistoryChunk(user_ids, length, out, splits, untargeted, int((picks >= 0).sum()))


def _take_users(cursors: list[_Cursor], full: np.ndarray, full_row: np.ndarray) -> pa.Array:
    parts, order = [], []
    for s, cursor in enumerate(cursors):
        users = np.flatnonzero(full == s)
        if len(users):
            parts.append(cursor.batch.column("user_id").take(pa.array(full_row[users])))
            order.append(users)
    if len(parts) == 1:
        return parts[0]
    position = np.empty(len(full), dtype=np.int64)
    position[np.concatenate(order)] = np.arange(len(full))
    return pa.concat_arrays(parts).take(pa.array(position))


def _take_positions(cursors: list[_Cursor], column: str, full: np.ndarray, full_row: np.ndarray,
                    length: np.ndarray) -> pa.Array:
    """The first ``length`` values of each user's longest row of ``column``, users one after another."""
    parts, starts = [], np.zeros(len(full), dtype=np.int64)
    taken = 0
    for s, cursor in enumerate(cursors):
        users = np.flatnonzero(full == s)
        if not len(users):
            continue
        offsets = cursor.offsets(column)
        rows = full_row[users]
        if np.any(offsets[rows + 1] - offsets[rows] < length[users]):
            raise NothingToDoError(f"a row's {column} list is shorter than its item_ids; the dataset does not "
                                   "follow the timgen-data dataset contract (rebuild it with `timgen-data build`)")
        parts.append(cursor.batch.column(column).values.take(pa.array(_ranges(offsets[rows], length[users]))))
        # Where each of these users' values start in the concatenated parts.
        starts[users] = taken + np.cumsum(length[users]) - length[users]
        taken += int(length[users].sum())
    if len(parts) == 1:
        return parts[0]
    return pa.concat_arrays(parts).take(pa.array(_ranges(starts, length)))


def _splits(cursors: list[_Cursor], picks: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, int]:
    first = np.full(int(length.sum()), UNTARGETED, dtype=np.int8)
    out_starts = np.cumsum(length) - length
    # Later splits first, so that an earlier split marking the same position overwrites them.
    for s in reversed(range(len(SPLITS))):
        users = np.flatnonzero(picks[:, s] >= 0)
        if not len(users):
            continue
        cursor = cursors[s]
        offsets = cursor.offsets("is_target")
        rows = picks[users, s]
        marked = np.minimum(offsets[rows + 1] - offsets[rows], length[users])
        hit = cursor.targets()[_ranges(offsets[rows], marked)]
        first[_ranges(out_starts[users], marked)[hit]] = s
    untargeted = int(np.count_nonzero(first == UNTARGETED))
    first[first == UNTARGETED] = SPLITS.index("train")
    return first, untargeted


@dataclass
class Tally:
    """What an export wrote: users and interactions, per split, and the positions no split evaluates."""

    users: int = 0
    interactions: int = 0
    splits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    untargeted: int = 0

    def add(self, chunk: HistoryChunk) -> None:
        self.users += int(np.count_nonzero(chunk.lengths))
        self.interactions += chunk.interactions
        if chunk.splits is not None:
            counts = np.bincount(chunk.splits, minlength=len(SPLITS))
            for s, split in enumerate(SPLITS):
                self.splits[split] += int(counts[s])
        self.untargeted += chunk.untargeted
