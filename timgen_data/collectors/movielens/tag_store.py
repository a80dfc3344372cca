"""Storing MovieLens tags: ``tag`` interactions, and the tags a movie was given in its text.

A user who gives a movie several tags at once gives them in the same second, and the store
keeps one interaction per (user, item, time, action): the tags of one moment are one ``tag``
interaction whose text lists them, one per line, in file order. A chunk merges its tags into
what earlier chunks (or an earlier run) stored, so any chunking, an interrupted run re-run or
a ``--force`` run all end with the rows of one clean run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Connection

from timgen_data.collectors.movielens.tags import Tag
from timgen_data.collectors.save import save_interactions
from timgen_data.store import fetch_rows, in_clause

ACTION = "tag"
SEPARATOR = "\n"  # between the tags of one interaction (a tag never holds a line break)
# The most tags an item's text lists: the most given first, so the text stays short for
# movies tagged thousands of times.
MAX_ITEM_TAGS = 10
# Items whose text is written per query (their ids in one IN list).
_ITEMS_PER_QUERY = 2_000


def save_tag_chunk(conn: Connection, tags: Sequence[Tag], user_ids: dict[str, int], item_ids: dict[str, int],
                   source_id: int) -> int:
    """Store ``tags``, merging those of one (user, item, time) into one interaction; returns the rows added."""
    moments: dict[tuple[int, int, int], list[str]] = {}
    for tag in tags:
        given = moments.setdefault((user_ids[tag.user], item_ids[tag.item], tag.ts), [])
        if tag.tag not in given:
            given.append(tag.tag)
    stored = _stored_tags(conn, moments)
    rows = []
    for key, given in moments.items():
        if key not in stored:
            rows.append((*key, ACTION, None, None, None, None, None, source_id, SEPARATOR.join(given)))
            continue
        interaction_id, before = stored[key]
        merged = before + [t for t in given if t not in before]
        if merged != before:
            conn.exec_driver_sql(_update_text_sql(conn), (SEPARATOR.join(merged), interaction_id))
    return save_interactions(conn, rows) if rows else 0


def _update_text_sql(conn: Connection) -> str:
    marker = "?" if conn.dialect.name == "sqlite" else "%s"
    return f"UPDATE interactions SET text = {marker} WHERE id = {marker}"


def _stored_tags(conn: Connection, moments: dict[tuple[int, int, int], list[str]]) -> dict[tuple, tuple[int, list]]:
    """The stored ``tag`` interactions among these (user, item, time) keys: id and tags."""
    if not moments:
        return {}
    users, user_params = in_clause("u", sorted({u for u, _, _ in moments}))
    items, item_params = in_clause("i", sorted({i for _, i, _ in moments}))
    found = fetch_rows(conn, f"SELECT id, user_id, item_id, ts, text FROM interactions WHERE action = '{ACTION}' "
                             f"AND user_id IN ({users}) AND item_id IN ({items})", {**user_params, **item_params})
    return {(u, i, ts): (id_, (text or "").split(SEPARATOR)) for id_, u, i, ts, text in found
            if (u, i, ts) in moments}


def item_tags_text(counts: Counter[str]) -> str:
    """The line an item's text gets: its most given tags, the most given first, then by name.

    >>> item_tags_text(Counter({"funny": 3, "Pixar": 3, "toys": 5}))
    'Tags: toys, Pixar, funny'
    """
    ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:MAX_ITEM_TAGS]
    return "Tags: " + ", ".join(tag for tag, _ in ranked)


def describe_items_with_tags(conn: Connection, namespace: str) -> int:
    """Set the text of each item of ``namespace`` that has tags to :func:`item_tags_text`; returns how many.

    Reads a few thousand items' tags at a time, so memory grows with the tags of those only.
    MovieLens catalogs give no description, so the line is the item's whole text.
    """
    described, after = 0, -1
    while True:
        ids = [i for (i,) in fetch_rows(conn, "SELECT id FROM items WHERE source = :ns AND id > :after ORDER BY id "
                                              f"LIMIT {_ITEMS_PER_QUERY}", {"ns": namespace, "after": after})]
        if not ids:
            return described
        after = ids[-1]
        placeholders, params = in_clause("i", ids)
        counts: dict[int, Counter[str]] = {}
        for item_id, text in fetch_rows(conn, f"SELECT item_id, text FROM interactions WHERE action = '{ACTION}' "
                                              f"AND item_id IN ({placeholders})", params):
            counts.setdefault(item_id, Counter()).update(t for t in (text or "").split(SEPARATOR) if t)
        if counts:
            conn.exec_driver_sql(_update_item_text_sql(conn),
                                 [(item_tags_text(counts[item_id]), item_id) for item_id in sorted(counts)])
        described += len(counts)


def _update_item_text_sql(conn: Connection) -> str:
    marker = "?" if conn.dialect.name == "sqlite" else "%s"
    return f"UPDATE items SET text = {marker} WHERE id = {marker}"
