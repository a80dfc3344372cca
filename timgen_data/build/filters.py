"""Dataset filters: minimum interactions per user and k-core."""

from __future__ import annotations

import numpy as np

from timgen_data.build.sequences import Interactions, with_bounds


def min_interactions(data: Interactions, minimum: int) -> Interactions:
    """Keep users with at least ``minimum`` interactions."""
    if minimum <= 1:
        return data
    lengths = np.diff(data.bounds)
    keep = np.repeat(lengths >= minimum, lengths)
    return with_bounds(data.frame[keep].reset_index(drop=True), data.sources)


def k_core(data: Interactions, k: int, max_rounds: int = 100) -> Interactions:
    """Iteratively drop users and items with fewer than ``k`` interactions until none remain."""
    if k <= 1:
        return data
    frame = data.frame
    for _ in range(max_rounds):
        user_counts = frame["user"].map(frame["user"].value_counts())
        item_counts = frame["item"].map(frame["item"].value_counts())
        keep = (user_counts >= k) & (item_counts >= k)
        if keep.all():
            break
        frame = frame[keep.to_numpy()]
    return with_bounds(frame.reset_index(drop=True), data.sources)
