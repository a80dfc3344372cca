"""Asset planning in the store: one ``assets`` row per (item, modality, uri) to fetch.

A collector plans what it found (a thumbnail URL, ``youtube:<id>``) while saving its items;
``align assets`` plans the rest and fetches every pending row. Both write the same rows,
so planning lives with the store rather than in either stage.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection

from timgen_data.modalities import MODALITIES
from timgen_data.store.bulk import upsert_rows
from timgen_data.store.query import fetch_rows

YOUTUBE_SCHEME = "youtube:"
PENDING, OK, FAILED = "pending", "ok", "failed"


def add_pending_assets(conn: Connection, rows: Iterable[tuple[int, str, str]]) -> int:
    """Plan (item id, modality, uri) assets a collector found (a thumbnail URL, ``youtube:<id>``);
    ``align assets`` fetches them. Already planned ones are left as they are. Returns how many were new."""
    unknown = {m for _, m, _ in rows if m not in MODALITIES} if isinstance(rows, list) else set()
    if unknown:
        raise ValueError(f"unknown modality {', '.join(sorted(unknown))}")
    before = _count(conn)
    upsert_rows(conn, "assets", ["item_id", "modality", "uri", "status", "updated_at"],
                [(i, m, u, PENDING, int(time.time())) for i, m, u in dict.fromkeys(rows)],
                conflict=["item_id", "modality", "uri"])
    return _count(conn) - before


def _count(conn: Connection) -> int:
    return fetch_rows(conn, "SELECT COUNT(*) FROM assets")[0][0]
