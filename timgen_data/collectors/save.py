"""Writing parsed records into the store; shared by every collector's save step."""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from timgen_data.collectors.records import InteractionRecord, ItemRecord, LinkRecord, UserRecord
from timgen_data.store import fetch_rows, id_map, models, to_json, upsert_rows

INTERACTION_COLUMNS = InteractionRecord._fields
INTERACTION_KEY = ("user_id", "item_id", "ts", "action")


def save_users(conn: Connection, namespace: str, users: Iterable[UserRecord]) -> dict[str, int]:
    """Upsert users; returns ``external_id -> id`` for the whole namespace."""
    upsert_rows(
        conn, "users", ["source", "external_id", "attributes"],
        [(namespace, u.external_id, to_json(u.attributes)) for u in users],
        conflict=["source", "external_id"], update=["attributes"],
    )
    return id_map(conn, "users", namespace)


def save_items(conn: Connection, namespace: str, items: Iterable[ItemRecord]) -> dict[str, int]:
    """Upsert items; returns ``external_id -> id`` for the whole namespace."""
    columns = ["source", "external_id", "title", "text", "year", "category", "categories", "attributes"]
    upsert_rows(
        conn, "items", columns,
        [
            (namespace, i.external_id, i.title, i.text, i.year, i.category, to_json(i.categories), to_json(i.attributes))
            for i in items
        ],
        conflict=["source", "external_id"], update=columns[2:],
    )
    return id_map(conn, "items", namespace)


def save_links(
    conn: Connection, item_ids: dict[str, int], links: Iterable[LinkRecord], *, method: str, confidence: float = 1.0
) -> int:
    rows = [
        (item_ids[link.item], link.target_source, link.target_external_id, method, confidence)
        for link in links
        if link.item in item_ids
    ]
    return upsert_rows(
        conn, "item_links", ["item_id", "target_source", "target_external_id", "method", "confidence"], rows,
        conflict=["item_id", "target_source", "target_external_id"], update=["method", "confidence"],
    )


class IdLookup:
    """``external_id -> surrogate id`` for Arrow columns, one batch after another (all ids must be known).

    The map grows with users or items, never with interactions; its Arrow form is built once.

    >>> lookup = IdLookup({"u1": 7, "u2": 9})
    >>> lookup(pa.array(["u2", "u1", "u2"])).tolist()
    [9, 7, 9]
    """

    def __init__(self, mapping: dict[str, int]):
        self.mapping = mapping
        self._keys = pa.array(list(mapping.keys()), type=pa.string())
        self._values = np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping))

    def __call__(self, column: pa.ChunkedArray | pa.Array) -> np.ndarray:
        positions = pc.index_in(column, value_set=self._keys)
        if positions.null_count:
            raise KeyError("external ids missing from the mapping")
        return self._values[positions.to_numpy(zero_copy_only=False)]


def save_interactions(conn: Connection, rows: Iterable[Sequence[Any]]) -> int:
    """Insert interactions (``InteractionRecord``s, or plain tuples in ``INTERACTION_COLUMNS`` order whose
    trailing ``text``, ``attributes`` and ``utc_offset`` may be left off where a source has none); existing ones are kept."""
    rows = rows if isinstance(rows, list) else list(rows)
    width = len(rows[0]) if rows else len(INTERACTION_COLUMNS)
    # Rebuilding every tuple costs about as much as reading the ratings: rows of one width name
    # only the columns they hold (the rest stay NULL); only a mix of widths is padded.
    if not all(map(width.__eq__, map(len, rows))):
        width = len(INTERACTION_COLUMNS)
        rows = [row if len(row) == width else (*row, *(None,) * (width - len(row))) for row in rows]
    return upsert_rows(conn, "interactions", INTERACTION_COLUMNS[:width], rows, conflict=INTERACTION_KEY)


def begin_source(
    conn: Connection, *, collector: str, variant: str, namespace: str, url: str | None, sha256: str,
    md5: str | None, license: str | None,
) -> int:
    """The ``sources`` row for this archive (created once; a re-run reuses it)."""
    upsert_rows(
        conn, "sources",
        ["collector", "variant", "namespace", "url", "sha256", "md5", "license", "started_at", "status", "counts"],
        [(collector, variant, namespace, url, sha256, md5, license, int(time.time()), "running", "{}")],
        conflict=["collector", "variant", "sha256"], update=["url", "md5", "license"],
    )
    table = models.sources
    return conn.execute(
        select(table.c.id).where(
            table.c.collector == collector, table.c.variant == variant, table.c.sha256 == sha256
        )
    ).scalar_one()


def finish_source(conn: Connection, source_id: int, counts: dict[str, Any]) -> None:
    conn.execute(
        models.sources.update()
        .where(models.sources.c.id == source_id)
        .values(status="complete", finished_at=int(time.time()), counts=to_json(counts))
    )


_COUNTS = {
    "users": "SELECT COUNT(*) FROM users WHERE source = :ns",
    "items": "SELECT COUNT(*) FROM items WHERE source = :ns",
    "interactions": "SELECT COUNT(*) FROM interactions x JOIN items i ON i.id = x.item_id WHERE i.source = :ns",
    "assets": "SELECT COUNT(*) FROM assets a JOIN items i ON i.id = a.item_id WHERE i.source = :ns",
    "links": "SELECT COUNT(*) FROM item_links l JOIN items i ON i.id = l.item_id WHERE i.source = :ns",
}


def namespace_counts(conn: Connection, namespace: str,
                     tables: Sequence[str] = ("users", "items", "interactions", "assets")) -> dict[str, int]:
    """Rows of one source namespace in the store (users, items, interactions, assets; links on request):
    a report's ``stored``."""
    return {name: fetch_rows(conn, _COUNTS[name], {"ns": namespace})[0][0] for name in tables}
