"""Saving parsed YouTube records: videos as items (with planned media), comments as
interactions. Idempotent upserts; each function works inside the caller's transaction.

Ids are looked up for the page's own external ids only, not for the whole namespace as
``collectors.save.save_items`` returns them, so a page costs the same however many
videos and commenters the store already holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from timgen_data.collectors.records import ItemRecord, UserRecord
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.collectors.save import INTERACTION_COLUMNS, save_interactions
from timgen_data.collectors.youtube.parse import Origin, ParsedComments, ParsedVideos
from timgen_data.store import fetch_rows, ids_of, in_clause, to_json, upsert_rows
from timgen_data.store.assets import YOUTUBE_SCHEME, add_pending_assets

NAMESPACE = "youtube"
ACTION = "comment"
ITEM_COLUMNS = ["source", "external_id", "title", "text", "year", "category", "categories", "attributes"]


def ids_for(conn: Connection, table: str, external_ids: Iterable[str]) -> dict[str, int]:
    """``external_id -> id`` in ``table`` (users or items) of this namespace, for these ids only."""
    return ids_of(conn, table, NAMESPACE, external_ids)


def save_videos(conn: Connection, parsed: ParsedVideos, media: Sequence[str] = ()) -> tuple[int, int]:
    """Upsert the videos, plan their thumbnails (image) and, for ``media``, their
    ``youtube:<id>`` video/audio assets. Returns (new items, new assets)."""
    external = [item.external_id for item in parsed.items]
    before = ids_for(conn, "items", external)
    upsert_rows(conn, "items", ITEM_COLUMNS, [_item_row(item) for item in parsed.items],
                conflict=["source", "external_id"], update=ITEM_COLUMNS[2:])
    ids = ids_for(conn, "items", external)
    planned = [(ids[video], "image", url) for video, url in parsed.thumbnails if video in ids]
    planned += [(ids[video], modality, YOUTUBE_SCHEME + video)
                for video in external for modality in media if modality in ("video", "audio")]
    return len(ids) - len(before), add_pending_assets(conn, planned)


def save_comments(conn: Connection, parsed: ParsedComments, source_id: int, *, origin: Origin,
                  rejections: Rejections) -> tuple[int, int]:
    """Upsert the commenters and insert their comments as ``comment`` interactions (value
    None, duration the video's length where known). Returns (new users, new interactions)."""
    user_ids_before = ids_for(conn, "users", [u.external_id for u in parsed.users])
    upsert_rows(conn, "users", ["source", "external_id", "attributes"], [_user_row(u) for u in parsed.users],
                conflict=["source", "external_id"], update=["attributes"])
    user_ids = ids_for(conn, "users", [u.external_id for u in parsed.users])
    videos = _video_lengths(conn, {c.video for c in parsed.comments})
    rows = []
    for comment in parsed.comments:
        if comment.video not in videos:
            rejections.add(Rejection(*origin, f"comment {comment.comment_id} is on video {comment.video}, "
                                               "which is not in the store"))
            continue
        item_id, duration = videos[comment.video]
        values = {"user_id": user_ids[comment.user], "item_id": item_id, "ts": comment.ts, "action": ACTION,
                  "value": None, "duration": duration, "device": None, "platform": None, "geo": None,
                  "source_id": source_id, "text": comment.text, "attributes": None,
                  "utc_offset": None}  # publishedAt is written in UTC ("Z"): the commenter's clock is unknown
        rows.append(tuple(values[c] for c in INTERACTION_COLUMNS))
    return len(user_ids) - len(user_ids_before), save_interactions(conn, rows)


def _video_lengths(conn: Connection, videos: set[str]) -> dict[str, tuple[int, float | None]]:
    if not videos:
        return {}
    placeholders, params = in_clause("v", sorted(videos))
    rows = fetch_rows(conn, f"SELECT external_id, id, attributes FROM items WHERE source = :ns "
                            f"AND external_id IN ({placeholders})", {"ns": NAMESPACE, **params})
    lengths = {}
    for external_id, item_id, attributes in rows:
        duration = json.loads(attributes or "{}").get("duration")
        lengths[external_id] = (item_id, float(duration) if isinstance(duration, (int, float)) else None)
    return lengths


def _item_row(item: ItemRecord) -> tuple:
    return (NAMESPACE, item.external_id, item.title, item.text, item.year, item.category,
            to_json(item.categories), to_json(item.attributes))


def _user_row(user: UserRecord) -> tuple:
    return (NAMESPACE, user.external_id, to_json(user.attributes))
