"""Cursors in ``collection_state`` so an interrupted collection resumes where it stopped."""

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
