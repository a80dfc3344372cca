"""Reading the store into one chronologically sorted columnar table of interactions.

Everything downstream (filters, splits, writers) works on these flat arrays plus the
per-user boundaries, so a build never loops over interactions in Python.

Only interactions with a score for the scenario are read: a dataset's ``scores`` are
never NaN. Those left out are counted per source, so the build can say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from timgen_data.errors import NothingToDoError
from timgen_data.store.query import fetch_frame, fetch_rows, in_clause
from timgen_data.store.state import label_run_unfinished

_COLUMNS = ["user_id", "item_id", "ts", "action", "device", "platform", "geo", "value", "text", "score", "class"]
# Surrogate ids instead of joined external ids: per-row strings are what makes a bulk
# read slow, and users/items are mapped back with two small lookups.
_SQL = """
SELECT i.user_id, i.item_id, i.ts, i.action, i.device, i.platform, i.geo, i.value, i.text, l.score, l.class
FROM interactions i
JOIN users u ON u.id = i.user_id
JOIN labels l ON l.interaction_id = i.id AND l.scenario = :scenario
WHERE u.source IN ({sources}) AND l.score IS NOT NULL
"""
_LABELLED_SQL = """
SELECT u.source, COUNT(*), COUNT(l.score)
FROM interactions i
JOIN users u ON u.id = i.user_id
LEFT JOIN labels l ON l.interaction_id = i.id AND l.scenario = :scenario
WHERE u.source IN ({sources})
GROUP BY u.source
"""


@dataclass
class Interactions:
    """Interactions sorted by (user, ts, item, action); ``bounds[k]:bounds[k+1]`` is user k."""

    frame: pd.DataFrame
    users: np.ndarray  # user id per user index (string)
    bounds: np.ndarray  # int64, len(users) + 1
    sources: tuple[str, ...] = ()  # the source namespaces read
    left_out: dict[str, int] = field(default_factory=dict)  # per source: interactions without a score

    @property
    def prefixed(self) -> bool:
        """Ids are unique only within a source, so mixed sources carry a ``source:`` prefix."""
        return len(self.sources) > 1

    @property
    def num_users(self) -> int:
        return len(self.users)


def available_sources(conn: Connection) -> list[str]:
    return [s for (s,) in fetch_rows(conn, "SELECT DISTINCT source FROM users ORDER BY source")]


def load_interactions(conn: Connection, scenario: str, sources: list[str] | None = None) -> Interactions:
    """The interactions of ``sources`` (default: every source) that have a ``scenario`` score.

    A formula labels only the actions it knows (movie: ratings), and ``label`` may not
    have run since a source was collected, so some interactions can lack a score. They
    are left out, never built with a NaN score, and counted per source in ``left_out``.
    By default a source with no score at all is left out whole (ids then look as if it
    were never collected); a source named in ``sources`` without any score is an error
    that says to label it.
    """
    known = available_sources(conn)
    if not known:
        raise NothingToDoError("the store has no interactions; run `timgen-data collect ...` first")
    chosen = sources or known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise NothingToDoError(f"no source named {', '.join(unknown)} in the store; it has {', '.join(known)}")
    if label_run_unfinished(conn, scenario):
        raise NothingToDoError(
            f"the last `timgen-data label --scenario {scenario}` stopped before it finished, so its labels may "
            "be mixed; run it again (it recomputes every label), then build"
        )
    marks, names = in_clause("s", chosen)
    counts = {source: (int(total), int(scored)) for source, total, scored in
              fetch_rows(conn, _LABELLED_SQL.format(sources=marks), {**names, "scenario": scenario})}
    labelled = [s for s in chosen if counts.get(s, (0, 0))[1] > 0]
    bare = [s for s in chosen if s not in labelled]
    if sources and bare:
        raise NothingToDoError(
            f"{', '.join(bare)} {'has' if len(bare) == 1 else 'have'} no {scenario!r} labels; run `timgen-data label --scenario {scenario}` "
            f"first, or build without --source {bare[0]} (the {scenario} formula may not label its actions)"
        )
    if not labelled:
        raise NothingToDoError(
            f"no {scenario!r} labels for {', '.join(chosen)}; run `timgen-data label --scenario {scenario}` first"
        )
    left_out = {s: total - scored for s, (total, scored) in sorted(counts.items()) if total > scored}
    marks, names = in_clause("s", labelled)
    frame = fetch_frame(conn, _SQL.format(sources=marks), _COLUMNS, {**names, "scenario": scenario})
    prefixed = len(labelled) > 1
    frame["user"] = _external_ids(conn, "users", marks, names, frame.pop("user_id"), prefixed)
    frame["item"] = _external_ids(conn, "items", marks, names, frame.pop("item_id"), prefixed)
    data = sort_interactions(frame)
    data.sources = tuple(labelled)
    data.left_out = left_out
    return data


def _external_ids(conn, table: str, marks: str, names: dict, ids: pd.Series, prefixed: bool) -> np.ndarray:
    rows = fetch_rows(conn, f"SELECT id, source, external_id FROM {table} WHERE source IN ({marks}) ORDER BY id", names)
    keys = np.array([r[0] for r in rows], dtype=np.int64)
    labels = np.array([f"{r[1]}:{r[2]}" if prefixed else r[2] for r in rows], dtype=object)
    return labels[np.searchsorted(keys, ids.to_numpy(dtype=np.int64))]


def natural_key(ids: pd.Series) -> pd.Series:
    """Numeric ids sort as numbers ("2" < "10"); anything else as text."""
    codes, uniques = pd.factorize(ids)  # convert each distinct id once, not once per row
    numeric = pd.to_numeric(pd.Series(uniques), errors="coerce")
    if numeric.notna().all():
        return pd.Series(numeric.to_numpy()[codes], index=ids.index)
    return ids


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
