"""Parsed X records → the store: users, items, interactions and planned media, idempotently.

Upserts go through the store's bulk helpers with the same columns as the shared
``collectors.save`` functions; ids are then looked up for the page's own rows only, since
the shared helpers return a whole namespace's map and a page is a few dozen rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from timgen_data.collectors.records import InteractionRecord, ItemRecord, UserRecord
from timgen_data.collectors.save import save_interactions
from timgen_data.collectors.twitter.parse import LikingUsers, TweetPage
from timgen_data.collectors.twitter.spec import NAMESPACE
from timgen_data.store import fetch_rows, ids_of, to_json, upsert_rows
from timgen_data.store.assets import add_pending_assets


def upsert_users(conn: Connection, users: Iterable[UserRecord]) -> dict[str, int]:
    """Insert or refresh users; returns ``external_id -> id`` for these users."""
    rows = [(NAMESPACE, u.external_id, to_json(u.attributes)) for u in users]
    upsert_rows(conn, "users", ["source", "external_id", "attributes"], rows,
                conflict=["source", "external_id"], update=["attributes"])
    return ids_of(conn, "users", NAMESPACE, [r[1] for r in rows])


def upsert_items(conn: Connection, items: Iterable[ItemRecord]) -> dict[str, int]:
    """Insert or refresh posts; the category is the first hashtag, "" when there is none."""
    columns = ["source", "external_id", "title", "text", "year", "category", "categories", "attributes"]
    rows = [(NAMESPACE, i.external_id, i.title, i.text, i.year, i.category or "", to_json(i.categories),
             to_json(i.attributes)) for i in items]
    upsert_rows(conn, "items", columns, rows, conflict=["source", "external_id"], update=columns[2:])
    return ids_of(conn, "items", NAMESPACE, [r[1] for r in rows])


def save_tweet_page(conn: Connection, page: TweetPage, source_id: int) -> tuple[int, int]:
    """Store one page; returns (new interactions, new planned assets)."""
    user_ids = upsert_users(conn, page.users)
    item_ids = upsert_items(conn, page.items)
    rows = [
        InteractionRecord(user_ids[a.user], item_ids[a.item], a.ts, a.action, duration=a.duration,
                          source_id=source_id, text=a.text)
        for a in page.actions
    ]
    written = save_interactions(conn, rows)
    planned = add_pending_assets(conn, [(item_ids[m.item], m.modality, m.uri) for m in page.assets])
    return written, planned


def save_likes(conn: Connection, post_id: str, likers: LikingUsers, seen_at: int, source_id: int) -> tuple[int, int]:
    """Store the likers of one post; returns (new likes, likes already stored).

    The API gives no time for a like, so ``seen_at`` (when the likers were fetched) stands in.
    A like is stored once, when first seen: re-collecting the same post later must not add
    the same like again under a later time.
    """
    item = ids_of(conn, "items", NAMESPACE, [post_id]).get(post_id)
    if item is None or not likers.users:
        return 0, 0
    user_ids = upsert_users(conn, likers.users)
    known = {row[0] for row in fetch_rows(
        conn, "SELECT user_id FROM interactions WHERE item_id = :item AND action = 'like'", {"item": item})}
    fresh = [uid for uid in dict.fromkeys(user_ids[u.external_id] for u in likers.users) if uid not in known]
    written = save_interactions(conn, [InteractionRecord(uid, item, seen_at, "like", source_id=source_id)
                                       for uid in fresh])
    return written, len(likers.users) - len(fresh)
