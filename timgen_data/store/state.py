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
