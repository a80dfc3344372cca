"""The paper's three label formulas, as pure functions over an interactions frame.

Input frame columns: ``id, user_id, item_id, ts, action, value, duration, category``.
Output frame: ``interaction_id, score, class`` for the interactions the scenario labels.
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


def _group_indicators(frame: pd.DataFrame, gap: int, actions: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    frame = frame[frame["action"].isin(actions)].copy()
    frame["session"] = _sessions(frame, gap)
    keys = ["user_id", "item_id", "session"]
    for action in actions:
        frame[f"has_{action}"] = (frame["action"] == action).astype(float)
        frame[f"has_{action}"] = frame.groupby(keys)[f"has_{action}"].transform("max")
    return frame, keys


def _ordered_group_sum(frame: pd.DataFrame, values: pd.Series, keys: list[str]) -> pd.Series:
    """Each row's group total of ``values``, added in time order (then id order).

    A group's total depends on that group's values alone, not on which other rows share the
    frame: ``label`` computes chunks of users, and a chunk must give the bits one frame of
    all users gives. (pandas' grouped sum does not promise that: its last bit can change
    with the group's place among the others.)
    """
    if frame.empty:
        return pd.Series(0.0, index=frame.index)
    order = np.lexsort((frame["id"].to_numpy(), frame["ts"].to_numpy(), *(frame[k].to_numpy() for k in reversed(keys))))
    grouped_keys = frame[keys].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, (grouped_keys[1:] != grouped_keys[:-1]).any(axis=1)])
    totals = np.add.reduceat(values.to_numpy(dtype=float)[order], starts)
    per_row = np.empty(len(order))
    per_row[order] = np.repeat(totals, np.diff(np.r_[starts, len(order)]))
    return pd.Series(per_row, index=frame.index)


def ecommerce_labels(frame: pd.DataFrame, weights: EcommerceWeights) -> pd.DataFrame:
    """y_score = α·click + β·cart + γ·purchase + δ·comment, each 1 if it happened for
    this (user, item) within the session; every interaction of the group gets the score."""
    grouped, _ = _group_indicators(frame, weights.session_gap, ECOMMERCE_ACTIONS)
    score = (
        weights.alpha * grouped["has_click"] + weights.beta * grouped["has_cart"]
        + weights.gamma * grouped["has_purchase"] + weights.delta * grouped["has_comment"]
    )
    return _result(grouped, score)


def video_labels(frame: pd.DataFrame, weights: VideoWeights) -> pd.DataFrame:
    """y_score = λ1·min(watched / length, 1) + λ2·like + λ3·comment + λ4·share per
    (user, item, session); watched seconds are the summed ``value`` of ``view`` events and
    the length is their ``duration``."""
    grouped, keys = _group_indicators(frame, weights.session_gap, VIDEO_ACTIONS)
    views = grouped["action"] == "view"
    watched = _ordered_group_sum(grouped, grouped["value"].where(views, 0.0).fillna(0.0), keys)
    length = grouped["duration"].where(views).groupby([grouped[k] for k in keys]).transform("max")
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
