"""Windows over users' histories and the padded tensor batches the model reads.

A window holds up to ``max_len`` steps. Input step j is the interaction just before target
step j (the first interaction of a history is preceded by a learned start step), so the
output at j has seen exactly the interactions before the one it predicts.

An epoch's windows are a ``WindowIndex``: one small record per window (row, first and last
position). The padded [B, L] arrays are made per batch, and a batch's steps are gathered from
the split's flat arrays (memory-mapped for a cached dataset), so only what a batch reads is
ever in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import torch

from timgen_model.encoding import BOS_ITEM, EncodedSplit
from timgen_model.texts import gather_tokens
from timgen_model.vocab import PAD

START, PADDING = -1, -2  # sentinel positions in window arrays
_CHUNK_POSITIONS = 1 << 20  # evaluation windows are found this many flat positions at a time


@dataclass
class Windows:
    """Padded windows: the arrays a batch is gathered from."""

    inputs: np.ndarray  # int64 [N, L] flat position of the input step, START or PADDING
    targets: np.ndarray  # int64 [N, L] flat position of the predicted interaction, or PADDING
    evaluate: np.ndarray  # bool [N, L] the prediction at this slot counts
    rows: np.ndarray  # int64 [N] row of each window

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def lengths(self) -> np.ndarray:
        return (self.inputs != PADDING).sum(1)

    def take(self, index: np.ndarray) -> "Windows":
        return Windows(self.inputs[index], self.targets[index], self.evaluate[index], self.rows[index])


@dataclass
class WindowIndex:
    """Windows as records: window k predicts the flat positions ``[starts[k], ends[k])`` of row
    ``rows[k]``, and its predictions count from ``scored_from[k]`` on, where ``is_target``."""

    rows: np.ndarray  # int64 [N]
    starts: np.ndarray  # int64 [N]
    ends: np.ndarray  # int64 [N]
    scored_from: np.ndarray  # int64 [N]
    opens: np.ndarray  # bool [N]: the window starts its row, so its first input is the start step
    is_target: np.ndarray  # the split's flat is_target (shared, not copied)
    max_len: int

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def lengths(self) -> np.ndarray:
        return self.ends - self.starts

    def take(self, index: np.ndarray) -> Windows:
        """The padded arrays of the windows ``index``."""
        starts, ends, scored = self.starts[index, None], self.ends[index, None], self.scored_from[index, None]
        positions = starts + np.arange(self.max_len)
        real = positions < ends
        targets = np.where(real, positions, PADDING)
        inputs = np.where(real, positions - 1, PADDING)
        inputs[:, 0] = np.where(self.opens[index], START, inputs[:, 0])
        counted = real & (positions >= scored)
        evaluate = counted & self.is_target[np.where(counted, positions, 0)] if len(self.is_target) else counted
        return Windows(inputs, targets, evaluate, self.rows[index])


def length_bucketed_batches(windows: Windows | WindowIndex, order: np.ndarray, batch_size: int,
                            rng: np.random.Generator, group: int = 50) -> list[np.ndarray]:
    """Batches of similar-length windows in random order: within each run of ``group`` batches
    of the shuffled order, windows are sorted by length, so little padding is computed."""
    lengths = windows.lengths[order]
    batches = []
    span = batch_size * group
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[start : start + span], kind="stable")]
        batches.extend(chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def epoch_batches(windows: WindowIndex, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """One epoch's batches of window numbers: the windows shuffled with ``seed + epoch``, then
    length-bucketed. Every process makes the same list, so they agree on every batch."""
    rng = np.random.default_rng(seed + epoch)
    return length_bucketed_batches(windows, rng.permutation(len(windows)), batch_size, rng)


def process_share(windows: WindowIndex, batch: np.ndarray, process_index: int,
                  num_processes: int) -> tuple[Windows, float]:
    """This process's part of a batch, and the weight of its loss.

    The processes take every ``num_processes``-th window (so their parts are of similar
    length), and each weighs its loss by its part of the batch's targets times
    ``num_processes``: the gradient all-reduce averages the processes' gradients, so the
    result is the gradient of the loss over all the batch's targets, as one process computes
    it. A process left without targets (a last batch smaller than the number of processes)
    still runs forward and backward, which the all-reduce waits for, on the batch's fullest
    window with weight 0.
    """
    dense = windows.take(batch)
    if num_processes == 1:
        return dense, 1.0
    counts = dense.evaluate.sum(1)
    mine = np.arange(process_index, len(batch), num_processes)
    total, own = int(counts.sum()), int(counts[mine].sum())
    if own == 0:
        return dense.take(np.array([int(counts.argmax())])), 0.0
    return dense.take(mine), num_processes * own / total


def _index(split: EncodedSplit, rows, starts, ends, scored_from, max_len: int) -> WindowIndex:
    row_starts = np.asarray(split.offsets[:-1])[rows]
    return WindowIndex(rows.astype(np.int64), starts.astype(np.int64), ends.astype(np.int64),
                       scored_from.astype(np.int64), starts == row_starts, split.is_target, max_len)


def training_windows(split: EncodedSplit, max_len: int) -> WindowIndex:
    """Non-overlapping windows cut from the end of each row (the newest steps are never cut
    short); rows in order, each row's windows from its newest."""
    offsets = np.asarray(split.offsets)
    counts = -(-np.diff(offsets) // max_len)
    rows = np.repeat(np.arange(split.num_rows), counts)
    back = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)  # 0 for a row's newest window
    ends = offsets[1:][rows] - back * max_len
    starts = np.maximum(offsets[:-1][rows], ends - max_len)
    return _index(split, rows, starts, ends, starts, max_len)


def _row_chunks(offsets: np.ndarray, positions: int) -> Iterator[tuple[int, int]]:
    """Runs of consecutive rows spanning about ``positions`` flat positions (a longer row alone)."""
    rows = len(offsets) - 1
    low = 0
    while low < rows:
        high = max(low + 1, int(np.searchsorted(offsets, offsets[low] + positions, side="right")) - 1)
        high = min(high, rows)
        yield low, high
        low = high


def evaluation_windows(split: EncodedSplit, max_len: int, *, chunk_positions: int = _CHUNK_POSITIONS) -> WindowIndex:
    """Windows covering every target once, each target with at least ``max_len // 2`` steps of
    context when its history has them: windows end every half window from the row's end, and
    each scores only its newer half (the oldest, which starts the row, scores all of it).
    Only windows scoring a target are kept."""
    half = max(1, max_len // 2)
    offsets = np.asarray(split.offsets)
    found: list[tuple[np.ndarray, ...]] = []
    for low, high in _row_chunks(offsets, chunk_positions):
        first, last = offsets[low:high], offsets[low + 1 : high + 1]
        # Targets before position p of this chunk: any target in [a, b) is before[b] > before[a].
        before = np.r_[0, np.cumsum(split.is_target[offsets[low] : offsets[high]], dtype=np.int64)]
        counts = np.where(last > first, -(-np.maximum(last - first - max_len, 0) // half) + 1, 0)
        local = np.repeat(np.arange(high - low), counts)
        back = np.arange(len(local)) - np.repeat(np.cumsum(counts) - counts, counts)
        ends = last[local] - back * half
        starts = np.maximum(first[local], ends - max_len)
        scored = np.where(starts == first[local], starts, np.maximum(starts, ends - half))
        base = offsets[low]
        keep = before[ends - base] > before[scored - base]
        found.append((local[keep] + low, starts[keep], ends[keep], scored[keep]))
    if not found:
        empty = np.zeros(0, np.int64)
        return _index(split, empty, empty, empty, empty, max_len)
    return _index(split, *(np.concatenate(parts) for parts in zip(*found)), max_len)


def windows_for_training(split: EncodedSplit, max_len: int, kind: str = "disjoint") -> WindowIndex:
    """An epoch's windows: ``disjoint`` (``training_windows``) or ``overlapping``, the evaluation's
    windows, where every target but a history's first ``max_len // 2`` is predicted from at least
    half a window of context, as it is evaluated (SASRec implementations train on every prefix
    for the same reason), at about twice the steps."""
    if kind == "overlapping":
        return evaluation_windows(split, max_len)
    return training_windows(split, max_len)


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
    # The input step's calendar in the user's local time (UTC where the dataset gives no offset);
    # None in a batch made without them (the model then reads the UTC weekday alone).
    local_weekdays: torch.Tensor | None = None  # long: 0 = Monday
    day_phases: torch.Tensor | None = None  # float: time of day, 0..1 from midnight
    year_phases: torch.Tensor | None = None  # float: day of the year, 0..1 from January 1
    seasons: torch.Tensor | None = None  # long: 0 winter (Dec-Feb), 1 spring, 2 summer, 3 autumn
    holidays: torch.Tensor | None = None  # long: HOLIDAY_UNKNOWN / HOLIDAY_NO / HOLIDAY_YES
    text_tokens: torch.Tensor | None = None  # long [B, L, K]: hashed n-grams of what the input step's user wrote
    # The same text through a pretrained encoder (model.review_encoder); None where the split has none.
    review_vectors: torch.Tensor | None = None  # float [B, L, D]
    review_present: torch.Tensor | None = None  # bool [B, L]: the input step has a text

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                        for f in fields(self)})


def local_calendar(ts: np.ndarray, utc_offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Weekday, time of day, day of year and (northern meteorological) season of UTC epoch
    seconds ``ts`` on the local clock ``utc_offsets`` minutes ahead of UTC.

    >>> c = local_calendar(np.array([1608957000]), np.array([-300]))  # 2020-12-26T04:30Z in New York
    >>> int(c["local_weekdays"][0]), float(c["day_phases"][0]) * 24, int(c["seasons"][0])
    (4, 23.5, 0)
    """
    local = np.asarray(ts, dtype=np.int64) + np.asarray(utc_offsets, dtype=np.int64) * 60
    days = local // 86400
    dates = days.astype("datetime64[D]")
    years = dates.astype("datetime64[Y]")
    year_start = years.astype("datetime64[D]")
    year_length = ((years + 1).astype("datetime64[D]") - year_start).astype(np.int64)
    months = dates.astype("datetime64[M]").astype(np.int64) % 12  # 0 = January
    return {
        "local_weekdays": (days + 3) % 7,  # 1970-01-01 was a Thursday
        "day_phases": ((local - days * 86400) / 86400.0).astype(np.float32),
        "year_phases": ((dates - year_start).astype(np.int64) / year_length).astype(np.float32),
        "seasons": (months + 1) % 12 // 3,
    }


def _at(array: np.ndarray, positions: np.ndarray, real: np.ndarray) -> np.ndarray:
    """``array[positions]`` where ``real``, anything elsewhere (the caller overwrites it)."""
    if len(array) == 0:
        return np.zeros(positions.shape, dtype=array.dtype)
    return np.asarray(array[np.where(real, positions, 0)])


class SplitTensors:
    """Gathers a batch's steps from a split's flat arrays: only the positions the batch reads
    are touched, so a memory-mapped split is read batch by batch."""

    def __init__(self, split: EncodedSplit, score_mean: float, score_std: float):
        self.split, self.score_mean, self.score_std = split, score_mean, score_std

    def _coded(self, name: str, positions: np.ndarray, real: np.ndarray, other: np.ndarray | int = PAD) -> torch.Tensor:
        values = _at(getattr(self.split, name), positions, real).astype(np.int64)
        return torch.as_tensor(np.where(real, values, other))

    def _scores(self, positions: np.ndarray, real: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        scores = (_at(self.split.scores, positions, real) - self.score_mean) / self.score_std
        known = np.isfinite(scores) & real
        return torch.as_tensor(np.where(known, scores, 0.0).astype(np.float32)), known

    def batch(self, windows: Windows | WindowIndex) -> Batch:
        if isinstance(windows, WindowIndex):
            windows = windows.take(np.arange(len(windows)))
        # Windows are right-padded and attention is causal, so cutting the all-padding tail
        # changes no output and saves the work of the longest empty stretch.
        steps = int((windows.inputs != PADDING).sum(1).max()) if len(windows) else 1
        i, t = windows.inputs[:, :steps], windows.targets[:, :steps]
        real, start, target_real = i >= 0, i == START, t >= 0
        stamps = self.split.timestamps
        # The start step takes the time of the interaction it precedes: it has no time of its own.
        ts = np.where(real, _at(stamps, i, real), np.where(start, _at(stamps, t, target_real), 0)).astype(np.int64)
        before = _at(stamps, i - 1, real & (i > 0)).astype(np.int64)
        row_starts = np.asarray(self.split.offsets)[windows.rows][:, None]
        gaps = np.where(real & (i != row_starts), np.maximum(ts - before, 0), 0).astype(np.float32)
        scores, known = self._scores(i, real)
        target_scores, target_known = self._scores(t, target_real)
        calendar = self._calendar(ts, i, t, real, start, target_real)
        ts = torch.as_tensor(ts)
        return Batch(
            items=self._coded("items", i, real, np.where(start, BOS_ITEM, PAD)),
            actions=self._coded("actions", i, real),
            devices=self._coded("devices", i, real),
            platforms=self._coded("platforms", i, real),
            geos=self._coded("geos", i, real),
            classes=self._coded("classes", i, real),
            days=(ts.double() / 86400.0).float(),
            weekdays=torch.div(ts, 86400, rounding_mode="floor").add(3).remainder(7),
            gaps=torch.as_tensor(gaps),
            scores=scores,
            score_known=torch.as_tensor(known),
            mask=torch.as_tensor(i != PADDING),
            target_items=self._coded("items", t, target_real),
            target_classes=self._coded("classes", t, target_real),
            target_scores=target_scores,
            target_score_known=torch.as_tensor(target_known),
            evaluate=torch.as_tensor(windows.evaluate[:, :steps]),
            **calendar,
            text_tokens=torch.as_tensor(gather_tokens(self.split.text_offsets, self.split.text_tokens, i, real)),
            **self._reviews(i, real),
        )

    def _reviews(self, i: np.ndarray, real: np.ndarray) -> dict[str, torch.Tensor]:
        """The input steps' review vectors (zeros where a step has no text); nothing without them."""
        reviews = self.split.reviews
        if reviews is None or self.split.review_index is None:
            return {}
        rows = np.where(real, _at(self.split.review_index, i, real), -1)
        has = rows >= 0
        vectors = np.zeros((*rows.shape, reviews.dim), np.float32)
        if has.any():
            vectors[has] = reviews.vectors[rows[has]]  # reads only the rows the batch needs
        return {"review_vectors": torch.as_tensor(vectors), "review_present": torch.as_tensor(has)}

    def _calendar(self, ts: np.ndarray, i: np.ndarray, t: np.ndarray, real: np.ndarray, start: np.ndarray,
                  target_real: np.ndarray) -> dict[str, torch.Tensor]:
        """The input steps' local calendar; the start step takes that of the step it precedes, as its time."""
        def gathered(array: np.ndarray | None, dtype) -> np.ndarray:
            if array is None:
                return np.zeros(ts.shape, dtype=dtype)
            return np.where(real, _at(array, i, real), np.where(start, _at(array, t, target_real), 0)).astype(dtype)

        calendar = local_calendar(ts, gathered(self.split.utc_offsets, np.int64))
        calendar["holidays"] = gathered(self.split.holidays, np.int64)
        return {name: torch.as_tensor(values) for name, values in calendar.items()}


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
