"""Train / validation / test splits expressed as row slices plus ``is_target`` masks.

A split row is a contiguous slice of one user's chronological history; ``is_target``
marks the positions evaluated in that split. A row never extends past its last target,
so no split lets a model see interactions after what it is asked to predict.

Every rule looks at one user at a time, so a build applies them to each chunk of whole
users it streams (:class:`timgen_data.dataset.chunks.Chunk`) exactly as to a whole table
(:class:`timgen_data.dataset.sequences.Interactions`): anything with per-user ``bounds``,
``num_users`` and ``ts`` will do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from timgen_contract import SPLITS
from timgen_data.errors import UsageError


class Sequences(Protocol):
    bounds: np.ndarray  # int64, num_users + 1: user k is bounds[k]:bounds[k+1]

    @property
    def num_users(self) -> int: ...

    @property
    def ts(self) -> np.ndarray: ...


@dataclass(frozen=True)
class SplitRows:
    """Row k covers ``positions[starts[k]:ends[k]]`` of user ``users[k]``."""

    users: np.ndarray  # user index per row
    starts: np.ndarray
    ends: np.ndarray
    is_target: np.ndarray  # bool, one per position of the concatenated rows

    @property
    def num_rows(self) -> int:
        return len(self.users)

    def rows(self, start: int, stop: int) -> SplitRows:
        """Rows ``start:stop`` alone."""
        lengths = self.ends - self.starts
        first = int(lengths[:start].sum())
        last = first + int(lengths[start:stop].sum())
        return SplitRows(self.users[start:stop], self.starts[start:stop], self.ends[start:stop],
                         self.is_target[first:last])


def _rows(users, starts, ends, targets) -> SplitRows:
    keep = ends > starts
    return SplitRows(users[keep], starts[keep], ends[keep], targets)


def slice_positions(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, e)`` for every row, vectorized."""
    lengths = ends - starts
    if lengths.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    return offsets + np.arange(lengths.sum(), dtype=np.int64)


def leave_last_out(data: Sequences) -> dict[str, SplitRows]:
    """Per user: test targets the last interaction, validation the one before, train
    trains on everything earlier. Users with fewer than 3 interactions go to train only."""
    starts, ends = data.bounds[:-1], data.bounds[1:]
    users = np.arange(data.num_users)
    evaluable = (ends - starts) >= 3
    result = {}
    for name, cut in (("test", 0), ("validation", 1)):
        u, s, e = users[evaluable], starts[evaluable], ends[evaluable] - cut
        targets = np.zeros(int((e - s).sum()), dtype=bool)
        targets[np.cumsum(e - s) - 1] = True
        result[name] = _rows(u, s, e, targets)
    train_ends = np.where(evaluable, ends - 2, ends)
    result["train"] = _rows(users, starts, train_ends, np.ones(int((train_ends - starts).sum()), dtype=bool))
    return {name: result[name] for name in SPLITS}


def check_time_cuts(valid_start: int, test_start: int) -> None:
    if valid_start > test_start:
        raise UsageError(f"--valid-start ({valid_start}) must not be after --test-start ({test_start})")


def time_split(data: Sequences, valid_start: int, test_start: int) -> dict[str, SplitRows]:
    """Global time cut: train on interactions before ``valid_start``; validation targets
    fall in [valid_start, test_start); test targets at or after ``test_start``."""
    check_time_cuts(valid_start, test_start)
    ts = data.ts
    starts, ends = data.bounds[:-1], data.bounds[1:]
    users = np.arange(data.num_users)
    # Per user, the first position at or after each cut (rows are sorted by ts).
    before_valid = np.add.reduceat((ts < valid_start).astype(np.int64), starts) if len(ts) else starts * 0
    before_test = np.add.reduceat((ts < test_start).astype(np.int64), starts) if len(ts) else starts * 0
    valid_cut, test_cut = starts + before_valid, starts + before_test

    train = _rows(users, starts, valid_cut, np.ones(int((valid_cut - starts).sum()), dtype=bool))
    has_valid = test_cut > valid_cut
    v_users, v_starts, v_ends = users[has_valid], starts[has_valid], test_cut[has_valid]
    v_pos = slice_positions(v_starts, v_ends)
    validation = _rows(v_users, v_starts, v_ends, ts[v_pos] >= valid_start)
    has_test = ends > test_cut
    t_users, t_starts, t_ends = users[has_test], starts[has_test], ends[has_test]
    t_pos = slice_positions(t_starts, t_ends)
    test = _rows(t_users, t_starts, t_ends, ts[t_pos] >= test_start)
    return {"train": train, "validation": validation, "test": test}


def given_split(data: Sequences, labels: np.ndarray) -> dict[str, SplitRows]:
    """Splits from a label per interaction: each split's row runs from the user's first
    interaction to its last one labelled with that split, whose labelled positions are the targets."""
    starts = data.bounds[:-1]
    users = np.arange(data.num_users)
    position = np.arange(len(labels), dtype=np.int64)
    result = {}
    for code, name in enumerate(SPLITS):
        mine = labels == code
        # Per user, one past the last position with this label (the user's start when none).
        last = np.maximum.reduceat(np.where(mine, position + 1, 0), starts) if len(labels) else starts * 0
        row_ends = np.maximum(last, starts)
        targets = mine[slice_positions(starts, row_ends)]
        result[name] = _rows(users, starts, row_ends, targets)
    return result
