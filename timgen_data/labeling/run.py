"""``label``: compute one scenario's labels for the stored interactions and store them.

Incremental: only users with unlabeled interactions are (re)computed, unless the
weights changed since the last run, in which case every label of the scenario is.
Users are recomputed whole because a session score depends on all its interactions; the
interactions stream in chunks of whole users (``user_chunks``), each chunk's labels written in
a transaction of its own, so memory does not grow with the store.

The cursor (collector "label", key = scenario) says which weights the stored labels
follow. A run notes "writing with weights F" in the same transaction as its first chunk
and "done with F" after its last, so a run killed in between (labels of two weights
mixed, or users half rewritten) is found by the next run, which then recomputes all.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import repeat

import pandas as pd

from timgen_data.errors import NothingToDoError, UsageError
from timgen_data.labeling.rating_scales import rating_scales
from timgen_data.labeling.scenarios import LABELLED_ACTIONS, SCENARIOS, compute_labels
from timgen_data.labeling.user_chunks import count_rows, user_chunks
from timgen_data.labeling.vocabulary import class_vocabulary, unknown_classes
from timgen_data.labeling.weights import ScoreWeights
from timgen_common.progress import SILENT, Progress
from timgen_data.store import LABEL_CURSOR, Store, load_cursor, save_cursor, upsert_rows
from timgen_data.store.query import fetch_rows

STATE_COLLECTOR = LABEL_CURSOR
# Interactions read and labelled per transaction (whole users, so a chunk may run a user longer).
CHUNK_ROWS = 200_000
LABEL_COLUMNS = ["interaction_id", "scenario", "score", "class"]
LABEL_KEY = ["interaction_id", "scenario"]
RATING_SCENARIO = "movie"  # the scenario whose y_score is a rating, kept on its source's scale


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
    # The movie scenario's scores are ratings on their sources' scales: {namespace: [lowest, highest]}.
    rating_scales: dict[str, list[float] | None] = field(default_factory=dict)


def _label_rows(scenario: str, labels: pd.DataFrame) -> list[tuple]:
    """One chunk's labels as rows of the labels table; a missing category is NULL."""
    classes = labels["class"].to_numpy(dtype=object, copy=True)
    classes[pd.isna(classes)] = None
    return list(zip(labels["interaction_id"].tolist(), repeat(scenario), labels["score"].tolist(), classes.tolist()))


def _recompute_reason(state: dict | None, fingerprint: str) -> str | None:
    """Why every label must be recomputed, or None when only new interactions need labels."""
    if state is None:
        return "first run"
    if state.get("writing"):
        return "an earlier run stopped before it finished"
    if state.get("weights") != fingerprint:
        return "the weights changed"
    return None


def start_run(store: Store, scenario: str, weights: ScoreWeights | None) -> tuple[ScoreWeights, LabelReport]:
    """Check the request and find whether every label must be recomputed (shared by both engines)."""
    if scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    weights = weights or ScoreWeights()
    report = LabelReport(scenario)
    with store.begin() as conn:
        report.recompute_reason = _recompute_reason(load_cursor(conn, STATE_COLLECTOR, scenario), weights.fingerprint())
    report.recomputed_all = report.recompute_reason is not None
    return weights, report


def note_writing(conn, scenario: str, weights: ScoreWeights) -> None:
    """Note, in the transaction of a run's first labels, that a run with ``weights`` is writing.

    Noted before any label changes and only if that transaction commits; a run killed before
    :func:`finish_run` leaves the note, and the next run recomputes every label.
    """
    save_cursor(conn, STATE_COLLECTOR, scenario, {"writing": weights.fingerprint(), "started_at": int(time.time())})


def finish_run(store: Store, report: LabelReport, weights: ScoreWeights) -> LabelReport:
    """Fill in the report's summary and note the run as done (shared by both engines)."""
    scenario = report.scenario
    if report.recomputed_all and not report.labeled:
        raise NothingToDoError(
            f"no interactions the {scenario} scenario can label (it needs {'/'.join(LABELLED_ACTIONS[scenario])} "
            "actions); collect a matching source first"
        )
    with store.begin() as conn:
        params = {"scenario": scenario}
        [(report.score_min, report.score_max)] = fetch_rows(
            conn, "SELECT MIN(score), MAX(score) FROM labels WHERE scenario = :scenario", params
        )
        classes = [c for (c,) in fetch_rows(conn, "SELECT DISTINCT class FROM labels WHERE scenario = :scenario", params)]
        report.classes = class_vocabulary(classes)
        report.unknown_classes = unknown_classes(scenario, report.classes)
        if scenario == RATING_SCENARIO:
            report.rating_scales = rating_scales(conn, scenario)
        save_cursor(conn, STATE_COLLECTOR, scenario, {
            "weights": weights.fingerprint(), "settings": weights.model_dump(),
            "score_min": report.score_min, "score_max": report.score_max,
            **({"rating_scales": report.rating_scales} if scenario == RATING_SCENARIO else {}),
        })
    return report


def label_store(
    store: Store, scenario: str, weights: ScoreWeights | None = None, *, progress: Progress = SILENT
) -> LabelReport:
    """Compute and store ``scenario`` labels.

    >>> label_store(store, "movie").labeled  # doctest: +SKIP
    100000
    """
    weights, report = start_run(store, scenario, weights)
    with store.begin() as conn:
        total = count_rows(conn, scenario, everything=report.recomputed_all)
    task, writing_noted = f"label {scenario}", False
    progress.start(task, total=total, unit="rows")
    # Nothing to read (often so for an incremental run) spares the read its scan for pending users.
    chunks = user_chunks(store, scenario, everything=report.recomputed_all, chunk_rows=CHUNK_ROWS) if total else ()
    for frame in chunks:
        report.considered += len(frame)
        labels = compute_labels(scenario, frame, weights)
        if len(labels):
            with store.begin() as conn:
                if not writing_noted:
                    note_writing(conn, scenario, weights)
                report.labeled += upsert_rows(
                    conn, "labels", LABEL_COLUMNS, _label_rows(scenario, labels),
                    conflict=LABEL_KEY, update=["score", "class"],
                )
            writing_noted = True
        progress.advance(task, len(frame))
    progress.finish(task)
    return finish_run(store, report, weights)
