"""The paper's three label formulas, as pure functions over an interactions frame.

Input frame columns: ``id, user_id, item_id, ts, action, value, duration, category``.
Output frame: ``interaction_id, score, class`` for the interactions the scenario labels.

The e-commerce and video scores are causal: an interaction's score counts only the events
of its (user, item, session) engagement at or before its own time, so a click followed by
a purchase does not carry the purchase (a model that reads past scores would otherwise
read the future).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from timgen_contract import SCENARIOS  # noqa: F401 (defined with the dataset contract; the stage names it too)
from timgen_data.labeling.weights import EcommerceWeights, ScoreWeights, VideoWeights

ECOMMERCE_ACTIONS = ("click", "cart", "purchase", "comment")
VIDEO_ACTIONS = ("view", "like", "comment", "share")
# The actions each scenario gives a label; interactions of other actions never get one.
LABELLED_ACTIONS = {"movie": ("rate",), "ecommerce": ECOMMERCE_ACTIONS, "video": VIDEO_ACTIONS}


def _result(frame: pd.DataFrame, score: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {"interaction_id": frame["id"].to_numpy(), "score": score.to_numpy(dtype=float), "class": frame["category"].to_numpy()}
    )


def movie_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """y_score = the rating (scale unchanged); y_class = the movie's primary genre."""
    rated = frame[frame["action"] == "rate"]
    return _result(rated, rated["value"])


def _sessions(frame: pd.DataFrame, gap: int) -> pd.Series:
    """Session number per interaction: a new one starts after ``gap`` idle seconds."""
    ordered = frame.sort_values(["user_id", "ts", "id"])
    new_user = ordered["user_id"].ne(ordered["user_id"].shift())
    idle = ordered["ts"].diff().gt(gap)
    return (new_user | idle).cumsum().reindex(frame.index)


def _causal(frame: pd.DataFrame, values: np.ndarray, keys: list[str], op: np.ufunc, start: float) -> pd.Series:
    """Each row's running ``op`` (np.add, np.fmax) of its group's ``values`` over the rows at or before its time.

    A row sees every row of its group whose ``ts`` is at most its own, those of the same
    second included: events stamped alike are simultaneous, and no order among them is
    known. A later event never changes an earlier row's result. The terms are taken one by
    one in time then id order, so a sum adds them as Spark's running window sum does (the
    Spark engine's scores must be the same floats to the bit).
    """
    n = len(frame)
    if n == 0:
        return pd.Series(start, index=frame.index, dtype=float)
    order = np.lexsort((frame["id"].to_numpy(), frame["ts"].to_numpy(), *(frame[k].to_numpy() for k in reversed(keys))))
    grouped_keys = frame[keys].to_numpy()[order]
    new_group = np.r_[True, (grouped_keys[1:] != grouped_keys[:-1]).any(axis=1)]
    starts = np.flatnonzero(new_group)
    lengths = np.diff(np.r_[starts, n])
    ordered = np.asarray(values, dtype=float)[order]
    running, out = np.full(len(starts), start), np.empty(n)
    # Step k takes the k-th term of every group at once: a loop as long as the longest group,
    # each group's terms combined strictly in order.
    for k in range(int(lengths.max())):
        alive = np.flatnonzero(lengths > k)
        rows = starts[alive] + k
        running[alive] = op(running[alive], ordered[rows])
        out[rows] = running[alive]
    # Rows of one second share the value of the last of them.
    ts = frame["ts"].to_numpy()[order]
    block_end = np.r_[new_group[1:] | (ts[1:] != ts[:-1]), True]
    last = np.flatnonzero(block_end)
    out = out[np.repeat(last, np.diff(np.r_[-1, last]))]
    per_row = np.empty(n)
    per_row[order] = out
    return pd.Series(per_row, index=frame.index)


def _group_indicators(frame: pd.DataFrame, gap: int, actions: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """``frame``'s rows of ``actions`` with their session and a causal ``has_<action>`` each:
    1.0 when the (user, item, session) engagement had that action at or before the row's time."""
    frame = frame[frame["action"].isin(actions)].copy()
    frame["session"] = _sessions(frame, gap)
    keys = ["user_id", "item_id", "session"]
    for action in actions:
        happened = (frame["action"] == action).to_numpy(dtype=float)
        frame[f"has_{action}"] = _causal(frame, happened, keys, np.fmax, 0.0)
    return frame, keys


def ecommerce_labels(frame: pd.DataFrame, weights: EcommerceWeights) -> pd.DataFrame:
    """y_score = α·click + β·cart + γ·purchase + δ·comment, each 1 if it happened for this
    (user, item) within the session at or before the interaction's time (causal: a click
    followed by a purchase scores α, the purchase α + γ)."""
    grouped, _ = _group_indicators(frame, weights.session_gap, ECOMMERCE_ACTIONS)
    score = (
        weights.alpha * grouped["has_click"] + weights.beta * grouped["has_cart"]
        + weights.gamma * grouped["has_purchase"] + weights.delta * grouped["has_comment"]
    )
    return _result(grouped, score)


def video_labels(frame: pd.DataFrame, weights: VideoWeights) -> pd.DataFrame:
    """y_score = λ1·min(watched / length, 1) + λ2·like + λ3·comment + λ4·share per
    (user, item, session), over the session's events at or before the interaction's time;
    watched seconds are the summed ``value`` of ``view`` events and the length is their
    ``duration`` (the largest seen so far)."""
    grouped, keys = _group_indicators(frame, weights.session_gap, VIDEO_ACTIONS)
    views = (grouped["action"] == "view").to_numpy()
    seconds = np.where(views, grouped["value"].fillna(0.0).to_numpy(dtype=float), 0.0)
    watched = _causal(grouped, seconds, keys, np.add, 0.0)
    durations = np.where(views, grouped["duration"].to_numpy(dtype=float), np.nan)
    length = _causal(grouped, durations, keys, np.fmax, np.nan)
    fraction = np.clip((watched / length).replace([np.inf, -np.inf], np.nan).fillna(0.0), 0.0, 1.0)
    score = (
        weights.lambda1 * fraction + weights.lambda2 * grouped["has_like"]
        + weights.lambda3 * grouped["has_comment"] + weights.lambda4 * grouped["has_share"]
    )
    return _result(grouped, score)


def compute_labels(scenario: str, frame: pd.DataFrame, weights: ScoreWeights) -> pd.DataFrame:
    if scenario == "movie":
        return movie_labels(frame)
    if scenario == "ecommerce":
        return ecommerce_labels(frame, weights.ecommerce)
    return video_labels(frame, weights.video)
