"""Writing IMDb items and users so that sources complement each other.

Three inputs describe the same title (title.basics, title.ratings, the title page's
JSON-LD), in any order and in separate runs, so an item is *merged*: a value given
now replaces the stored one, a value not given (None) keeps it, and attributes are
merged key by key. A title.basics re-run therefore keeps the ratings and the page's
plot, and a page crawl keeps the dump's titleType.

The shared ``save_items``/``save_users`` return the id map of the whole namespace,
which is right for one archive but not for a chunked write into a namespace of
millions of titles; these helpers map only the ids they wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from timgen_data.collectors.records import ItemRecord, UserRecord
from timgen_data.store import fetch_rows, ids_of, in_clause, to_json, upsert_rows

# Bounded IN lists: SQLite allows 32766 parameters, PostgreSQL 65535.
_IN_BATCH = 5_000
ITEM_COLUMNS = ("source", "external_id", "title", "text", "year", "category", "categories", "attributes")


def merge_items(conn: Connection, namespace: str, items: Sequence[ItemRecord]) -> dict[str, int]:
    """Upsert ``items`` merged over what is stored; returns ``external_id -> id`` for them."""
    merged: dict[str, ItemRecord] = {}
    for item in items:  # the same title twice in one batch merges too
        merged[item.external_id] = merge_item(merged.get(item.external_id), item)
    stored = _stored_items(conn, namespace, list(merged))
    rows = []
    for external_id, item in merged.items():
        item = merge_item(stored.get(external_id), item)
        rows.append((namespace, external_id, item.title, item.text, item.year, item.category,
                     to_json(item.categories), to_json(item.attributes)))
    upsert_rows(conn, "items", ITEM_COLUMNS, rows, conflict=["source", "external_id"], update=ITEM_COLUMNS[2:])
    return ids_of(conn, "items", namespace, list(merged))


def merge_item(old: ItemRecord | None, new: ItemRecord) -> ItemRecord:
    """``new`` over ``old``: given values win, missing ones (None, empty genres) are kept."""
    if old is None:
        return new
    attributes = {**old.attributes, **{k: v for k, v in new.attributes.items() if v is not None}}
    return ItemRecord(
        external_id=new.external_id,
        title=new.title if new.title is not None else old.title,
        year=new.year if new.year is not None else old.year,
        categories=list(new.categories) or list(old.categories),
        attributes=attributes,
        text=new.text if new.text is not None else old.text,
    )


def update_attributes(conn: Connection, namespace: str, updates: dict[str, dict[str, Any]]) -> int:
    """Merge ``updates[external_id]`` into stored items' attributes; unknown ids are left out.

    Returns how many items were updated.
    """
    stored = _stored_items(conn, namespace, list(updates))
    rows = []
    for external_id, item in stored.items():
        merged = merge_item(item, ItemRecord(external_id, None, None, [], updates[external_id]))
        rows.append((namespace, external_id, merged.title, merged.text, merged.year, merged.category,
                     to_json(merged.categories), to_json(merged.attributes)))
    upsert_rows(conn, "items", ITEM_COLUMNS, rows, conflict=["source", "external_id"], update=["attributes"])
    return len(rows)


def save_users_scoped(conn: Connection, namespace: str, users: Iterable[UserRecord]) -> dict[str, int]:
    """Upsert users; returns ``external_id -> id`` for these users only."""
    by_id = {u.external_id: u for u in users}
    upsert_rows(
        conn, "users", ["source", "external_id", "attributes"],
        [(namespace, u.external_id, to_json(u.attributes)) for u in by_id.values()],
        conflict=["source", "external_id"], update=["attributes"],
    )
    return ids_of(conn, "users", namespace, list(by_id))


def _stored_items(conn: Connection, namespace: str, external_ids: list[str]) -> dict[str, ItemRecord]:
    found: dict[str, ItemRecord] = {}
    for start in range(0, len(external_ids), _IN_BATCH):
        placeholders, params = in_clause("e", external_ids[start:start + _IN_BATCH])
        rows = fetch_rows(
            conn,
            "SELECT external_id, title, text, year, categories, attributes FROM items "
            f"WHERE source = :ns AND external_id IN ({placeholders})",
            {"ns": namespace, **params},
        )
        for external_id, title, text, year, categories, attributes in rows:
            found[external_id] = ItemRecord(
                external_id, title, year, json.loads(categories or "[]"), json.loads(attributes or "{}"), text
            )
    return found
