"""Dataset statistics gathered chunk by chunk: counts per action, class and month, score and time range.

What the card, ``build.json`` and ``stats.png`` show used to be computed from the whole
table; these running totals give the same numbers from a stream. Counters keep their
keys in order of first appearance, as pandas' ``value_counts`` does, so the plot ranks
ties the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.dataset.chunks import Chunk
from timgen_data.dataset.plots import plot_statistics


class DatasetTally:
    """Running totals of the interactions written."""

    def __init__(self) -> None:
        self.interactions = 0
        self.actions: dict[str, int] = {}
        self.classes: dict[str | None, int] = {}  # None: no class
        self.months: dict[int, int] = {}  # months since 1970-01 (UTC) → interactions
        self.scores: list[float] = []  # [min, max] once a score was seen
        self.time_span: list[int] = []

    def add(self, chunk: Chunk) -> None:
        table = chunk.table
        if table.num_rows == 0:
            return
        self.interactions += table.num_rows
        _count(self.actions, table.column("action"))
        _count(self.classes, table.column("class"))
        months = chunk.ts.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
        for month, n in zip(*np.unique(months, return_counts=True)):
            self.months[int(month)] = self.months.get(int(month), 0) + int(n)
        scores = pc.min_max(table.column("score"))
        if scores["min"].is_valid:
            low, high = scores["min"].as_py(), scores["max"].as_py()
            self.scores = [min(self.scores[0], low), max(self.scores[1], high)] if self.scores else [low, high]
        ts = pc.min_max(table.column("ts"))
        low, high = ts["min"].as_py(), ts["max"].as_py()
        self.time_span = [min(self.time_span[0], low), max(self.time_span[1], high)] if self.time_span else [low, high]

    def statistics(self, lengths: np.ndarray, items: int, splits: dict[str, dict[str, int]],
                   left_out: dict[str, int]) -> dict[str, Any]:
        """The statistics of ``build.json`` and the card; ``lengths`` per user, ``splits`` rows and targets."""
        classes: dict[str, int] = {}
        for name, n in self.classes.items():
            classes[name or ""] = classes.get(name or "", 0) + n
        statistics = {
            "users": int(len(lengths)),
            "items": int(items),
            "interactions": int(self.interactions),
            "splits": splits,
            "actions": {str(k): v for k, v in sorted(self.actions.items())},
            "classes": {str(k): v for k, v in sorted(classes.items())},
            "length": {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())},
            "score_range": [float(s) for s in self.scores] if self.scores else None,
            "time_span": [int(t) for t in self.time_span],
        }
        if left_out:  # only then, so a fully labelled store builds the same card and build.json as ever
            statistics["left_out_unlabelled"] = dict(sorted(left_out.items()))
        return statistics

    def plot(self, lengths: np.ndarray, path: Path) -> None:
        """``stats.png`` of what was written."""
        months = sorted(self.months)
        per_month = pd.Series([self.months[m] for m in months],
                              index=[str(np.datetime64(m, "M")) for m in months], dtype=np.int64)
        actions = pd.Series(dict(sorted(self.actions.items())), dtype=np.int64)
        named: dict[str, int] = {}
        for name, n in self.classes.items():
            key = "(none)" if name is None else name
            named[key] = named.get(key, 0) + n
        # value_counts: by count, descending, ties in order of first appearance; then the top 15 ascending.
        classes = pd.Series(named, dtype=np.int64).sort_values(ascending=False).head(15).sort_values()
        plot_statistics(lengths, per_month, actions, classes, path)


def _count(counts: dict, column: pa.ChunkedArray) -> None:
    for entry in pc.value_counts(column).to_pylist():
        counts[entry["values"]] = counts.get(entry["values"], 0) + entry["counts"]
