"""Cursors in ``collection_state`` so an interrupted collection resumes where it stopped, and what a source declares
of itself (its rating scale)."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import Connection, select

from timgen_data.store import models
from timgen_data.store.bulk import to_json, upsert_rows


def load_cursor(conn: Connection, collector: str, key: str) -> dict[str, Any] | None:
    table = models.collection_state
    row = conn.execute(
        select(table.c.cursor).where(table.c.collector == collector, table.c.key == key)
    ).first()
    return json.loads(row[0]) if row else None


def save_cursor(conn: Connection, collector: str, key: str, cursor: dict[str, Any]) -> None:
    upsert_rows(
        conn,
        "collection_state",
        ["collector", "key", "cursor", "updated_at"],
        [(collector, key, to_json(cursor), int(time.time()))],
        conflict=["collector", "key"],
        update=["cursor", "updated_at"],
    )


# ``label`` keeps one cursor per scenario under this name. While a run is writing, the
# cursor holds ``{"writing": <weights fingerprint>}``; once it has finished, ``{"weights": ...}``.
LABEL_CURSOR = "label"


def label_run_unfinished(conn: Connection, scenario: str) -> bool:
    """Whether the last ``label`` run of ``scenario`` stopped before it finished (its labels may be mixed)."""
    state = load_cursor(conn, LABEL_CURSOR, scenario)
    return bool(state and state.get("writing"))


# A source's rating scale, one record per namespace under this name: the ratings' own
# [lowest, highest], so the labels (kept on that scale) and whatever reads them can say
# what a score means. Sources that declare none have no record.
RATING_SCALE = "rating_scale"


def save_rating_scale(conn: Connection, namespace: str, lowest: float, highest: float) -> None:
    save_cursor(conn, RATING_SCALE, namespace, {"lowest": lowest, "highest": highest})


def rating_scales(conn: Connection) -> dict[str, tuple[float, float]]:
    """Each namespace that recorded a rating scale → (lowest, highest)."""
    table = models.collection_state
    rows = conn.execute(select(table.c.key, table.c.cursor).where(table.c.collector == RATING_SCALE)).all()
    return {key: (float(scale["lowest"]), float(scale["highest"])) for key, scale in
            ((key, json.loads(cursor)) for key, cursor in rows)}
