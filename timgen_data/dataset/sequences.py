"""Per-user chronological sequences: the order a dataset's interactions come in.

Users come in the *natural* order of their ids (numeric ids as numbers: "2" < "10"), and
each user's interactions by (ts, item id in natural order, action). A build streams the
store in that order, a chunk of whole users at a time (:mod:`timgen_data.dataset.chunks`);
:class:`Interactions` holds the same thing for a table already in memory (tests, small
tools), and both hand the splits the same per-user boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class Interactions:
    """Interactions sorted by (user, ts, item, action); ``bounds[k]:bounds[k+1]`` is user k."""

    frame: pd.DataFrame
    users: np.ndarray  # user id per user index (string)
    bounds: np.ndarray  # int64, len(users) + 1
    sources: tuple[str, ...] = ()  # the source namespaces read

    @property
    def prefixed(self) -> bool:
        """Ids are unique only within a source, so mixed sources carry a ``source:`` prefix."""
        return len(self.sources) > 1

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def ts(self) -> np.ndarray:
        return self.frame["ts"].to_numpy(dtype=np.int64)


def natural_key(ids: pd.Series) -> pd.Series:
    """Numeric ids sort as numbers ("2" < "10"); anything else as text."""
    codes, uniques = pd.factorize(ids)  # convert each distinct id once, not once per row
    numeric = pd.to_numeric(pd.Series(uniques), errors="coerce")
    if numeric.notna().all():
        return pd.Series(numeric.to_numpy()[codes], index=ids.index)
    return ids


# A character no number pandas parses can hold (digits, signs, point, exponent, spaces, inf, nan).
_NOT_A_NUMBER = r"[^0-9\s.+\-eEinfatyINFATY]"
_DIGITS = r"^[0-9]{1,18}$"  # fits an int64


def natural_order(ids: pa.Array) -> np.ndarray:
    """Positions of ``ids`` (distinct ids, one per user or item) in the order of :func:`natural_key`;
    ties keep their order.

    The usual ids (all digits, or text with a letter no number has) are ordered in Arrow,
    without a Python object per id; anything else goes through :func:`natural_key` itself.

    >>> natural_order(pa.array(["10", "2", "1"])).tolist()
    [2, 1, 0]
    """
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    if pc.any(pc.match_substring_regex(ids, _NOT_A_NUMBER)).as_py():  # text: one id is no number
        return pc.sort_indices(ids).to_numpy()
    if pc.all(pc.match_substring_regex(ids, _DIGITS)).as_py():
        return np.argsort(pc.cast(ids, pa.int64()).to_numpy(), kind="stable")
    keys = natural_key(pd.Series(ids.to_numpy(zero_copy_only=False), dtype=object)).to_numpy()
    return np.argsort(keys, kind="stable")


def sort_interactions(frame: pd.DataFrame) -> Interactions:
    frame = frame.assign(_user_key=natural_key(frame["user"]), _item_key=natural_key(frame["item"]))
    frame = frame.sort_values(["_user_key", "ts", "_item_key", "action"], kind="mergesort", ignore_index=True)
    frame = frame.drop(columns=["_user_key", "_item_key"])
    return with_bounds(frame)


def with_bounds(frame: pd.DataFrame, sources: tuple[str, ...] = ()) -> Interactions:
    """Per-user boundaries of an already sorted frame."""
    user = frame["user"].to_numpy()
    if len(user) == 0:
        return Interactions(frame, np.array([], dtype=object), np.zeros(1, dtype=np.int64), sources)
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
    bounds = np.r_[starts, len(user)].astype(np.int64)
    return Interactions(frame, user[starts], bounds, sources)
