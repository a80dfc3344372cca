"""Dataset filters: minimum interactions per user and k-core.

The k-core works on counts per user and per item, never on the interactions themselves:
each round streams the (user, item) pairs once, so a build needs memory for one number per
user and per item, whatever the number of interactions. :func:`k_core` and
:func:`min_interactions` apply the same rules to a table already in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from timgen_data.dataset.sequences import Interactions, with_bounds

# Each call yields (user code, item code) arrays: codes index the per-user and per-item arrays.
Pairs = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class Core:
    """Which users and items survive, and each user's interactions among what survives."""

    users: np.ndarray  # bool per user code
    items: np.ndarray  # bool per item code
    user_counts: np.ndarray  # int64 per user code
    item_counts: np.ndarray  # int64 per item code


def count_pairs(pairs: Pairs, users: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interactions per user and per item among the pairs whose user and item are both alive."""
    user_counts = np.zeros(len(users), dtype=np.int64)
    item_counts = np.zeros(len(items), dtype=np.int64)
    for user, item in pairs():
        alive = users[user] & items[item]
        user_counts += np.bincount(user[alive], minlength=len(users))
        item_counts += np.bincount(item[alive], minlength=len(items))
    return user_counts, item_counts


def k_core_of(pairs: Pairs, users: np.ndarray, items: np.ndarray, k: int, max_rounds: int = 100,
              counts: tuple[np.ndarray, np.ndarray] | None = None) -> Core:
    """Iteratively drop users and items with fewer than ``k`` interactions until none remain.

    ``users``/``items`` say who takes part to begin with, ``counts`` (when known) their
    interactions per user and per item. Each round is one pass over ``pairs``; an
    interaction survives while both its user and its item do.
    """
    users, items = users.copy(), items.copy()
    user_counts, item_counts = counts if counts is not None else count_pairs(pairs, users, items)
    if k <= 1:
        return Core(users & (user_counts > 0), items & (item_counts > 0), user_counts, item_counts)
    for _ in range(max_rounds):
        # An interaction goes when its user or its item has fewer than k (counted over this round's survivors).
        users_ok, items_ok = user_counts >= k, item_counts >= k
        if np.all(users_ok | (user_counts == 0)) and np.all(items_ok | (item_counts == 0)):
            break
        users &= users_ok
        items &= items_ok
        user_counts, item_counts = count_pairs(pairs, users, items)
    return Core(users & (user_counts > 0), items & (item_counts > 0), user_counts, item_counts)


def min_interactions(data: Interactions, minimum: int) -> Interactions:
    """Keep users with at least ``minimum`` interactions."""
    if minimum <= 1:
        return data
    lengths = np.diff(data.bounds)
    keep = np.repeat(lengths >= minimum, lengths)
    return with_bounds(data.frame[keep].reset_index(drop=True), data.sources)


def k_core(data: Interactions, k: int, max_rounds: int = 100) -> Interactions:
    """:func:`k_core_of` on a table in memory."""
    if k <= 1:
        return data
    frame = data.frame
    user, users = pd.factorize(frame["user"])
    item, items = pd.factorize(frame["item"])
    core = k_core_of(lambda: [(user, item)], np.ones(len(users), bool), np.ones(len(items), bool), k, max_rounds)
    keep = core.users[user] & core.items[item]
    return with_bounds(frame[keep].reset_index(drop=True), data.sources)
