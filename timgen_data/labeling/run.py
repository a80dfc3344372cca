"""``label``: compute one scenario's labels for the stored interactions and store them.

Incremental: only users with unlabeled interactions are (re)computed, unless the
weights changed since the last run, in which case every label of the scenario is.
Users are recomputed whole because a session score depends on all its interactions.

The cursor (collector "label", key = scenario) says which weights the stored labels
follow. A run notes "writing with weights F" in the same transaction as its first chunk
and "done with F" after its last, so a run killed in between (labels of two weights
mixed, or users half rewritten) is found by the next run, which then recomputes all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import Connection

from timgen_data.errors import NothingToDoError, UsageError
from timgen_data.labeling.scenarios import ECOMMERCE_ACTIONS, SCENARIOS, VIDEO_ACTIONS, compute_labels
from timgen_data.labeling.vocabulary import class_vocabulary, unknown_classes
from timgen_data.labeling.weights import ScoreWeights
from timgen_data.progress import SILENT, Progress
from timgen_data.store import LABEL_CURSOR, Store, load_cursor, save_cursor, upsert_rows
from timgen_data.store.query import fetch_frame, fetch_rows

STATE_COLLECTOR = LABEL_CURSOR
_NEEDED_ACTIONS = {
    "movie": "rate",
    "ecommerce": "/".join(ECOMMERCE_ACTIONS),
    "video": "/".join(VIDEO_ACTIONS),
}
CHUNK_ROWS = 200_000


@dataclass
class LabelReport:
    scenario: str
    considered: int = 0
    labeled: int = 0
    recomputed_all: bool = False
    recompute_reason: str | None = None  # why every label was recomputed; None for an incremental run
    score_min: float | None = None
    score_max: float | None = None
    classes: list[str] = field(default_factory=list)
    unknown_classes: list[str] = field(default_factory=list)


# Categories come from one small items lookup rather than a per-row join: fewer strings.
_FRAME_SQL = """
SELECT i.id, i.user_id, i.item_id, i.ts, i.action, i.value, i.duration
FROM interactions i
{where}
"""
_PENDING_USERS = """
WHERE i.user_id IN (
  SELECT p.user_id FROM interactions p
  LEFT JOIN labels l ON l.interaction_id = p.id AND l.scenario = :scenario
  WHERE l.interaction_id IS NULL
)
"""


def _read_frame(conn: Connection, scenario: str, everything: bool) -> pd.DataFrame:
    sql = _FRAME_SQL.format(where="" if everything else _PENDING_USERS)
    params = {} if everything else {"scenario": scenario}
    columns = ["id", "user_id", "item_id", "ts", "action", "value", "duration"]
    frame = fetch_frame(conn, sql, columns, params)
    categories = dict(fetch_rows(conn, "SELECT id, category FROM items"))
    frame["category"] = frame["item_id"].map(categories)
    return frame


def _recompute_reason(state: dict | None, fingerprint: str) -> str | None:
    """Why every label must be recomputed, or None when only new interactions need labels."""
    if state is None:
        return "first run"
    if state.get("writing"):
        return "an earlier run stopped before it finished"
    if state.get("weights") != fingerprint:
        return "the weights changed"
    return None


def label_store(
    store: Store, scenario: str, weights: ScoreWeights | None = None, *, progress: Progress = SILENT
) -> LabelReport:
    """Compute and store ``scenario`` labels.

    >>> label_store(store, "movie").labeled  # doctest: +SKIP
    100000
    """
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    weights = weights or ScoreWeights()
    fingerprint = weights.fingerprint()
    report = LabelReport(scenario)
    with store.begin() as conn:
        report.recompute_reason = _recompute_reason(load_cursor(conn, STATE_COLLECTOR, scenario), fingerprint)
        report.recomputed_all = report.recompute_reason is not None
        frame = _read_frame(conn, scenario, everything=report.recomputed_all)
    report.considered = len(frame)
    labels = compute_labels(scenario, frame, weights) if len(frame) else frame.iloc[:0]
    if report.recomputed_all and len(labels) == 0:
        raise NothingToDoError(
            f"no interactions the {scenario} scenario can label (it needs {_NEEDED_ACTIONS[scenario]} "
            "actions); collect a matching source first"
        )
    rows = list(zip(
        labels["interaction_id"].tolist(), [scenario] * len(labels), labels["score"].tolist(),
        [c if isinstance(c, str) else None for c in labels["class"].tolist()],
    )) if len(labels) else []
    progress.start(f"label {scenario}", total=len(rows), unit="rows")
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start:start + CHUNK_ROWS]
        with store.begin() as conn:
            if start == 0:  # noted before any label changes, and only if the chunk commits
                save_cursor(conn, STATE_COLLECTOR, scenario, {"writing": fingerprint, "started_at": int(time.time())})
            report.labeled += upsert_rows(
                conn, "labels", ["interaction_id", "scenario", "score", "class"], chunk,
                conflict=["interaction_id", "scenario"], update=["score", "class"],
            )
        progress.advance(f"label {scenario}", len(chunk))
    progress.finish(f"label {scenario}")
    with store.begin() as conn:
        params = {"scenario": scenario}
        [(report.score_min, report.score_max)] = fetch_rows(
            conn, "SELECT MIN(score), MAX(score) FROM labels WHERE scenario = :scenario", params
        )
        classes = [c for (c,) in fetch_rows(conn, "SELECT DISTINCT class FROM labels WHERE scenario = :scenario", params)]
        report.classes = class_vocabulary(scenario, classes)
        report.unknown_classes = unknown_classes(scenario, report.classes)
        save_cursor(conn, STATE_COLLECTOR, scenario, {
            "weights": fingerprint, "settings": weights.model_dump(),
            "score_min": report.score_min, "score_max": report.score_max,
        })
    return report
