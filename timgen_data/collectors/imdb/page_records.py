"""Crawled items into the store: titles as items (merged), reviews as interactions.

A review with a rating is a rating on IMDb's 1–10 scale, written down: one ``rate``
interaction whose value is the rating and whose text is the review, so the movie scenario
labels it as it labels a MovieLens rating. A review without a rating stays a ``comment``.

Kept apart from the pipelines so that saving is plain code on a connection: the store
pipeline only batches and decides when to commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from timgen_data.collectors.imdb.items import ReviewItem, TitleDone, TitleItem
from timgen_data.collectors.imdb.names import COLLECTOR, NAMESPACE
from timgen_data.collectors.imdb.raw import public_url
from timgen_data.collectors.imdb.store import merge_items, save_users_scoped
from timgen_data.collectors.records import ItemRecord, LinkRecord, UserRecord
from timgen_data.collectors.save import save_interactions, save_links
from timgen_data.store import save_cursor
from timgen_data.store.assets import YOUTUBE_SCHEME, add_pending_assets

RATED_ACTION = "rate"
UNRATED_ACTION = "comment"
# Earlier versions stored every review as a comment; the same review seen again is that row,
# turned into a rating in place (its id, and so any label or reference to it, kept), unless
# a rating of that moment is stored already.
_COMMENT_TO_RATE = text("""
UPDATE interactions SET action = 'rate'
WHERE user_id = :user_id AND item_id = :item_id AND ts = :ts AND action = 'comment' AND value IS NOT NULL
AND NOT EXISTS (SELECT 1 FROM interactions r
                WHERE r.user_id = :user_id AND r.item_id = :item_id AND r.ts = :ts AND r.action = 'rate')
""")
TRAILER_LINK_METHOD = "imdb-jsonld-trailer"


def title_record(item: TitleItem) -> ItemRecord:
    """A title page's JSON-LD as an item; attribute names match the dumps' where they mean the same."""
    return ItemRecord(
        external_id=item.tconst,
        title=item.name,
        year=item.year,
        categories=list(item.genres),
        text=item.description,
        attributes={
            "schemaType": item.title_type,
            "datePublished": item.date_published,
            "runtimeMinutes": item.runtime_minutes,
            "averageRating": item.rating_value,
            "numVotes": item.rating_count,
            # Keys ``align assets`` also reads, holding the uris planned below, so they plan once.
            "image_url": item.image,
            "trailer": item.trailer,
            "page_url": public_url(item.url),
        },
    )


def review_text(review: ReviewItem) -> str | None:
    """The headline and the body, as the reviewer wrote them."""
    parts = [p.strip() for p in (review.headline, review.text) if p and p.strip()]
    return "\n".join(parts) or None


def review_action(review: ReviewItem) -> str:
    return RATED_ACTION if review.value is not None else UNRATED_ACTION


def cursor_key(tconst: str) -> str:
    return f"title:{tconst}"


def save_batch(conn: Connection, titles: Sequence[TitleItem], reviews: Sequence[ReviewItem],
               done: Sequence[TitleDone], *, source_id: int | None) -> dict[str, int]:
    """Store one batch and the cursors of the titles it completes; returns what was newly written."""
    records = [title_record(t) for t in titles]
    # A review's title may have no stored page (dropped, or stored by an earlier batch): a bare
    # item keeps the review, and merging never erases what another batch or the dumps stored.
    known = {r.external_id for r in records}
    records += [ItemRecord(t, None, None, [], {}) for t in dict.fromkeys(r.tconst for r in reviews) if t not in known]
    item_ids = merge_items(conn, NAMESPACE, records) if records else {}
    user_ids = save_users_scoped(
        conn, NAMESPACE, [UserRecord(r.user_id, {"name": r.user_name} if r.user_name else {}) for r in reviews]
    ) if reviews else {}
    rows = [
        (user_ids[r.user_id], item_ids[r.tconst], r.ts, review_action(r), r.value, None, None, None, None,
         source_id, review_text(r))
        for r in reviews
    ]
    rated = [{"user_id": row[0], "item_id": row[1], "ts": row[2]} for row in rows if row[3] == RATED_ACTION]
    if rated:
        conn.execute(_COMMENT_TO_RATE, rated)
    written: dict[str, Any] = {"interactions": save_interactions(conn, rows) if rows else 0}
    assets = [(item_ids[t.tconst], "image", t.image) for t in titles if t.image]
    assets += [(item_ids[t.tconst], "video", t.trailer) for t in titles if t.trailer]
    written["assets"] = add_pending_assets(conn, assets) if assets else 0
    links = [LinkRecord(t.tconst, "youtube", t.trailer.removeprefix(YOUTUBE_SCHEME))
             for t in titles if t.trailer and t.trailer.startswith(YOUTUBE_SCHEME)]
    written["links"] = save_links(conn, item_ids, links, method=TRAILER_LINK_METHOD) if links else 0
    for mark in done:
        save_cursor(conn, COLLECTOR, cursor_key(mark.tconst), {
            "reviews": mark.reviews, "review_pages": mark.review_pages,
            "reviews_complete": mark.reviews_complete, "robots_forbidden": mark.robots_forbidden,
        })
    written["titles"] = len(titles)
    return written


def title_is_done(cursor: dict[str, Any] | None, *, reviews: bool, max_review_pages: int) -> bool:
    """Whether an earlier run already collected what this run asks for."""
    if not cursor:
        return False
    if not reviews:
        return True
    if not cursor.get("reviews"):
        return False
    return bool(cursor.get("reviews_complete") or cursor.get("robots_forbidden")
                or int(cursor.get("review_pages", 0)) >= max_review_pages)
