"""Windows over users' histories and the padded tensor batches the model reads.

A window holds up to ``max_len`` steps. Input step j is the interaction just before target
step j (the first interaction of a history is preceded by a learned start step), so the
output at j has seen exactly the interactions before the one it predicts.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from timgen_model.encoding import BOS_ITEM, EncodedSplit
from timgen_model.vocab import PAD

START, PADDING = -1, -2  # sentinel positions in window arrays


@dataclass
class Windows:
    inputs: np.ndarray  # int64 [N, L] flat position of the input step, START or PADDING
    targets: np.ndarray  # int64 [N, L] flat position of the predicted interaction, or PADDING
    evaluate: np.ndarray  # bool [N, L] the prediction at this slot counts
    rows: np.ndarray  # int64 [N] row of each window

    def __len__(self) -> int:
        return len(self.rows)

    def take(self, index: np.ndarray) -> "Windows":
        return Windows(self.inputs[index], self.targets[index], self.evaluate[index], self.rows[index])


def length_bucketed_batches(windows: Windows, order: np.ndarray, batch_size: int, rng: np.random.Generator,
                            group: int = 50) -> list[np.ndarray]:
    """Batches of similar-length windows in random order: within each run of ``group`` batches
    of the shuffled order, windows are sorted by length, so little padding is computed."""
    lengths = (windows.inputs[order] != PADDING).sum(1)
    batches = []
    span = batch_size * group
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[start : start + span], kind="stable")]
        batches.extend(chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def _window(start: int, end: int, row_start: int, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    targets = np.full(max_len, PADDING, dtype=np.int64)
    inputs = np.full(max_len, PADDING, dtype=np.int64)
    n = end - start
    targets[:n] = np.arange(start, end)
    inputs[:n] = np.arange(start - 1, end - 1)
    if start == row_start:
        inputs[0] = START
    return inputs, targets


def training_windows(split: EncodedSplit, max_len: int) -> Windows:
    """Non-overlapping windows cut from the end of each row (the newest steps are never cut short)."""
    inputs, targets, rows = [], [], []
    for row, (row_start, row_end) in enumerate(zip(split.offsets[:-1], split.offsets[1:])):
        end = int(row_end)
        while end > row_start:
            start = max(int(row_start), end - max_len)
            i, t = _window(start, end, int(row_start), max_len)
            inputs.append(i)
            targets.append(t)
            rows.append(row)
            end = start
    return _stack(split, inputs, targets, None, rows, max_len)


def evaluation_windows(split: EncodedSplit, max_len: int) -> Windows:
    """Windows covering every target once, each target with at least ``max_len // 2`` steps of
    context when its history has them: windows end every half window from the row's end, and
    each scores only its newer half."""
    half = max(1, max_len // 2)
    inputs, targets, masks, rows = [], [], [], []
    for row, (row_start, row_end) in enumerate(zip(split.offsets[:-1], split.offsets[1:])):
        row_start, end = int(row_start), int(row_end)
        if not split.is_target[row_start:end].any():
            continue
        while end > row_start:
            start = max(row_start, end - max_len)
            scored_from = start if start == row_start else max(start, end - half)
            positions = np.arange(scored_from, end)
            if split.is_target[positions].any():
                i, t = _window(start, end, row_start, max_len)
                mask = np.zeros(max_len, dtype=bool)
                mask[scored_from - start : end - start] = split.is_target[positions]
                inputs.append(i)
                targets.append(t)
                masks.append(mask)
                rows.append(row)
            if start == row_start:
                break
            end -= half
    return _stack(split, inputs, targets, masks, rows, max_len)


def _stack(split, inputs, targets, masks, rows, max_len) -> Windows:
    if not inputs:
        empty = np.zeros((0, max_len), dtype=np.int64)
        return Windows(empty, empty.copy(), np.zeros((0, max_len), dtype=bool), np.zeros(0, dtype=np.int64))
    targets = np.stack(targets)
    if masks is None:
        evaluate = (targets >= 0) & split.is_target[np.maximum(targets, 0)]
    else:
        evaluate = np.stack(masks)
    return Windows(np.stack(inputs), targets, evaluate, np.asarray(rows, dtype=np.int64))


@dataclass
class Batch:
    """Padded tensors for a set of windows; every field is [B, L] unless noted."""

    items: torch.Tensor
    actions: torch.Tensor
    devices: torch.Tensor
    platforms: torch.Tensor
    geos: torch.Tensor
    classes: torch.Tensor
    days: torch.Tensor  # float: UTC epoch days of the input step
    weekdays: torch.Tensor  # long: 0 = Monday
    gaps: torch.Tensor  # float: seconds since the previous input step
    scores: torch.Tensor  # float: normalized score of the input step (0 when unknown)
    score_known: torch.Tensor  # bool
    mask: torch.Tensor  # bool: a real input step (start step included)
    target_items: torch.Tensor
    target_classes: torch.Tensor
    target_scores: torch.Tensor  # normalized
    target_score_known: torch.Tensor
    evaluate: torch.Tensor  # bool: this slot's prediction counts

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})


class SplitTensors:
    """A split's flat arrays as tensors with two extra entries (start step, padding) so that
    gathering window positions is a single index operation."""

    def __init__(self, split: EncodedSplit, score_mean: float, score_std: float):
        n = len(split.items)
        self.start, self.pad = n, n + 1

        def extended(array, start_value, pad_value, dtype):
            return torch.as_tensor(np.r_[array, [start_value, pad_value]].astype(dtype))

        scores = (split.scores - score_mean) / score_std
        known = np.isfinite(scores)
        self.items = extended(split.items, BOS_ITEM, PAD, np.int64)
        self.actions = extended(split.actions, PAD, PAD, np.int64)
        self.devices = extended(split.devices, PAD, PAD, np.int64)
        self.platforms = extended(split.platforms, PAD, PAD, np.int64)
        self.geos = extended(split.geos, PAD, PAD, np.int64)
        self.classes = extended(split.classes, PAD, PAD, np.int64)
        self.timestamps = extended(split.timestamps, 0, 0, np.int64)
        self.gaps = extended(split.time_gaps, 0, 0, np.float32)
        self.scores = extended(np.where(known, scores, 0.0), 0.0, 0.0, np.float32)
        self.score_known = extended(known, False, False, bool)

    def _positions(self, window_positions: np.ndarray) -> torch.Tensor:
        p = torch.as_tensor(window_positions)
        return torch.where(p == START, self.start, torch.where(p == PADDING, self.pad, p))

    def batch(self, windows: Windows) -> Batch:
        # Windows are right-padded and attention is causal, so cutting the all-padding tail
        # changes no output and saves the work of the longest empty stretch.
        steps = int((windows.inputs != PADDING).sum(1).max()) if len(windows) else 1
        i = self._positions(windows.inputs[:, :steps])
        t = self._positions(windows.targets[:, :steps])
        # The start step takes the time of the interaction it precedes: it has no time of its own.
        ts = torch.where(i == self.start, self.timestamps[t], self.timestamps[i])
        return Batch(
            items=self.items[i],
            actions=self.actions[i],
            devices=self.devices[i],
            platforms=self.platforms[i],
            geos=self.geos[i],
            classes=self.classes[i],
            days=(ts.double() / 86400.0).float(),
            weekdays=torch.div(ts, 86400, rounding_mode="floor").add(3).remainder(7),
            gaps=self.gaps[i],
            scores=self.scores[i],
            score_known=self.score_known[i],
            mask=i != self.pad,
            target_items=self.items[t],
            target_classes=self.classes[t],
            target_scores=self.scores[t],
            target_score_known=self.score_known[t] & (t != self.pad),
            evaluate=torch.as_tensor(windows.evaluate[:, :steps]),
        )


def history_window(split: EncodedSplit, row: int, max_len: int) -> Windows:
    """One window over the newest ``max_len`` steps of a row, whose last slot predicts the
    interaction after the row's end (what comes next for this user)."""
    row_start, row_end = int(split.offsets[row]), int(split.offsets[row + 1])
    if row_end - row_start < max_len:
        positions = np.r_[START, np.arange(row_start, row_end)]
    else:
        positions = np.arange(row_end - max_len, row_end)
    inputs = np.full(max_len, PADDING, dtype=np.int64)
    targets = np.full(max_len, PADDING, dtype=np.int64)
    inputs[: len(positions)] = positions
    targets[: len(positions) - 1] = positions[1:]
    evaluate = np.zeros(max_len, dtype=bool)
    evaluate[len(positions) - 1] = True
    return Windows(inputs[None], targets[None], evaluate[None], np.array([row], dtype=np.int64))
