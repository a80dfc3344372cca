"""Drawing interactions without repeats: one (user, item) pair at most once.

The demo corpus and the scale benchmark's ML-25M-like archives both draw items by
popularity for whole arrays of users at once, then redraw the few repeated pairs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# Redraws the slots given (positions into ``item``) in round ``round_``: new item per slot.
Redraw = Callable[[np.ndarray, int], np.ndarray]


def make_pairs_unique(rng: np.random.Generator, user: np.ndarray, item: np.ndarray, n_items: int,
                      starts: np.ndarray, counts: np.ndarray, redraw: Redraw, rounds: int) -> None:
    """Redraw repeated (user, item) pairs in place until every pair is unique.

    One sort finds the repeats; after that only the pending slots are redrawn and checked,
    against the sorted keys kept so far, so each round costs little. ``user`` is sorted and
    user ``u``'s slots are ``starts[u]:starts[u] + counts[u]``.
    """
    key = user * n_items + item
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    repeat = np.zeros(len(key), dtype=bool)
    repeat[1:] = sorted_key[1:] == sorted_key[:-1]
    pending = np.sort(order[repeat])
    kept = sorted_key[~repeat]  # sorted, unique
    added = np.empty(0, dtype=np.int64)  # keys accepted in later rounds, sorted
    for round_ in range(rounds):
        if len(pending) == 0:
            return
        item[pending] = redraw(pending, round_)
        new_key = user[pending] * n_items + item[pending]
        accept = ~(_contains(kept, new_key) | _contains(added, new_key))
        first = np.zeros(len(pending), dtype=bool)
        first[np.unique(new_key, return_index=True)[1]] = True
        accept &= first
        added = np.sort(np.concatenate([added, new_key[accept]]))
        pending = pending[~accept]
    # What is left (heavy users near the whole catalog): items the user has not rated, uniformly.
    # A pending slot holds an item some other slot of the user holds, so it is never freed.
    affected, first_slot = np.unique(user[pending], return_index=True)
    for u, slots in zip(affected, np.split(pending, first_slot[1:])):
        used = np.zeros(n_items, dtype=bool)
        used[item[starts[u]: starts[u] + counts[u]]] = True
        item[slots] = rng.choice(np.flatnonzero(~used), size=len(slots), replace=False)


def _contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Whether each of ``keys`` is in the sorted array ``sorted_keys``."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[at] == keys
