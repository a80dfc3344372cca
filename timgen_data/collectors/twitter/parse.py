"""X API v2 JSON → records: pure functions, tested on saved responses with the expected output beside them.

How posts become interactions, in the paper's action vocabulary (click, view, purchase,
like, comment, plus share):

- a post is its author's own contribution to the conversation: the author ``comment``s on
  the post (the item), at the post's ``created_at``;
- a reply is also a ``comment`` on the replied-to post, and a quote a ``share`` of the quoted
  post (both at the reply's or quote's time);
- a retweet is only a ``share`` of the retweeted post: it has no content of its own, so it is
  no item and no comment;
- a user in a post's ``liking_users`` ``like``s it; the API gives no time for a like, so the
  time the like was first collected stands in (done in the save step, which knows it).

Referenced posts come from ``includes.tweets`` and are stored as items (with their own
media where the page includes it), so reply, quote and retweet targets exist. A post whose
author is missing from ``includes.users`` (deleted, suspended or protected; the API then
lists the author under ``errors``) is rejected: every interaction needs its user.

Text is stored as its author wrote it: the API sends ``text`` with ``&``, ``<`` and ``>``
HTML-escaped, so it is decoded once, here, from the response (a raw file replayed is
decoded the same once, never twice); a post longer than 280 characters is whole only in
``note_tweet.text``, which is used where the API sends it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from timgen_data.collectors.records import ItemRecord, UserRecord
from timgen_data.errors import TimeValueError
from timgen_data.timeline import normalize_time

USER_ATTRIBUTES = ("username", "name", "created_at", "public_metrics")
VIDEO_TYPES = ("video", "animated_gif")
# referenced_tweets type -> the action its author takes on the referenced post.
REFERENCE_ACTIONS = {"replied_to": "comment", "quoted": "share", "retweeted": "share"}


@dataclass(frozen=True)
class Action:
    """One interaction by external ids: ``user`` did ``action`` on post ``item`` at ``ts``."""

    user: str
    item: str
    ts: int
    action: str
    duration: float | None = None  # the post's video length in seconds, where it has one
    text: str | None = None  # what the user wrote: the post, reply or quote (a retweet adds nothing)


@dataclass(frozen=True)
class MediaAsset:
    item: str
    modality: str  # image | video
    uri: str


@dataclass
class TweetPage:
    """What one page of posts (search or timeline) holds."""

    users: list[UserRecord] = field(default_factory=list)
    items: list[ItemRecord] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    assets: list[MediaAsset] = field(default_factory=list)
    post_ids: list[str] = field(default_factory=list)  # accepted posts of the page itself (not retweets)
    rejections: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    result_count: int = 0
    newest_id: str | None = None
    next_token: str | None = None

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count


@dataclass
class UserLookup:
    """The answer of ``/2/users/by``: users found, (id, username) in order, and those not found."""

    users: list[UserRecord] = field(default_factory=list)
    found: list[tuple[str, str]] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)


@dataclass
class LikingUsers:
    users: list[UserRecord] = field(default_factory=list)
    next_token: str | None = None


def parse_tweet_page(body: dict[str, Any]) -> TweetPage:
    """One page of ``/2/tweets/search/recent`` or ``/2/users/:id/tweets``.

    >>> parse_tweet_page({"meta": {"result_count": 0}}).items
    []
    """
    meta = body.get("meta") or {}
    data = [t for t in body.get("data") or [] if isinstance(t, dict)]
    includes = body.get("includes") or {}
    authors = {u["id"]: u for u in includes.get("users") or [] if isinstance(u, dict) and "id" in u}
    media = {m["media_key"]: m for m in includes.get("media") or [] if isinstance(m, dict) and "media_key" in m}
    unavailable = _errors_by_id(body.get("errors") or [])
    page = TweetPage(result_count=int(meta.get("result_count", len(data))), newest_id=meta.get("newest_id"),
                     next_token=meta.get("next_token"))
    items: dict[str, tuple[ItemRecord, list[MediaAsset], float | None]] = {}
    for tweet in includes.get("tweets") or []:
        if not isinstance(tweet, dict) or "id" not in tweet:
            continue
        try:
            items[tweet["id"]] = _item(tweet, media, page, primary=False)
        except TimeValueError:
            page.skip("referenced_posts_unreadable")
    references: list[tuple[str, str, int, str, str | None]] = []  # author, target post, ts, action, text
    authors_used: dict[str, UserRecord] = {}
    for tweet in data:
        post_id, author = tweet.get("id"), tweet.get("author_id")
        if not post_id:
            page.rejections.append("a post without an id")
            continue
        if author not in authors:
            why = unavailable.get(author) or "not in includes.users"
            page.rejections.append(f"post {post_id}: author {author or '?'} unavailable ({why})")
            continue
        try:
            ts = _ts(tweet)
        except TimeValueError as exc:
            page.rejections.append(f"post {post_id}: {exc}")
            continue
        authors_used[author] = user_record(authors[author])
        refs = [r for r in tweet.get("referenced_tweets") or []
                if isinstance(r, dict) and r.get("type") in REFERENCE_ACTIONS]
        written = post_text(tweet) or None
        references += [(author, r["id"], ts, REFERENCE_ACTIONS[r["type"]], None if r["type"] == "retweeted" else written)
                       for r in refs if r.get("id")]
        if any(r["type"] == "retweeted" for r in refs):
            continue
        items[post_id] = _item(tweet, media, page, primary=True)
        page.post_ids.append(post_id)
        page.actions.append(Action(author, post_id, ts, "comment", items[post_id][2], written))
    for author, target, ts, action, text in references:
        if target in items:
            page.actions.append(Action(author, target, ts, action, items[target][2], text))
        else:
            page.skip("referenced_posts_unavailable")
    page.users = list(authors_used.values())
    page.items = [record for record, _assets, _duration in items.values()]
    page.assets = [asset for _record, assets, _duration in items.values() for asset in assets]
    return page


def parse_user_lookup(body: dict[str, Any]) -> UserLookup:
    """``/2/users/by?usernames=...``: found users, and a reason for each name not found."""
    lookup = UserLookup()
    for user in body.get("data") or []:
        if isinstance(user, dict) and user.get("id"):
            lookup.users.append(user_record(user))
            lookup.found.append((user["id"], str(user.get("username", "")).lower()))
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            name = error.get("value") or error.get("resource_id") or "?"
            lookup.rejections.append(f"user @{name}: {error.get('detail') or error.get('title') or 'not available'}")
    return lookup


def parse_liking_users(body: dict[str, Any]) -> LikingUsers:
    """``/2/tweets/:id/liking_users``: the users (the API gives no like times)."""
    users = [user_record(u) for u in body.get("data") or [] if isinstance(u, dict) and u.get("id")]
    return LikingUsers(users, (body.get("meta") or {}).get("next_token"))


def user_record(user: dict[str, Any]) -> UserRecord:
    return UserRecord(str(user["id"]), {key: user.get(key) for key in USER_ATTRIBUTES})


def post_text(tweet: dict[str, Any]) -> Any:
    """What the author wrote: the whole long post where there is one, HTML entities decoded once.

    >>> post_text({"text": "Q&amp;A &lt;3 about &amp;lt;"})
    'Q&A <3 about &lt;'
    >>> post_text({"text": "Long… https://t.co/x", "note_tweet": {"text": "Long and whole"}})
    'Long and whole'
    """
    note = tweet.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) and note.get("text") else tweet.get("text")
    return html.unescape(text) if isinstance(text, str) else text


def best_mp4(variants: list[dict[str, Any]] | None) -> str | None:
    """The highest-bitrate MP4 among a video's variants (HLS playlists are left out).

    >>> best_mp4([{"content_type": "video/mp4", "bit_rate": 256000, "url": "a"},
    ...           {"content_type": "video/mp4", "bit_rate": 2176000, "url": "b"},
    ...           {"content_type": "application/x-mpegURL", "url": "c"}])
    'b'
    """
    mp4 = [v for v in variants or [] if isinstance(v, dict) and v.get("content_type") == "video/mp4" and v.get("url")]
    if not mp4:
        return None
    return max(mp4, key=lambda v: v.get("bit_rate") or 0)["url"]


def _item(tweet: dict[str, Any], media: dict[str, dict[str, Any]], page: TweetPage, *, primary: bool
          ) -> tuple[ItemRecord, list[MediaAsset], float | None]:
    post_id = str(tweet["id"])
    ts = _ts(tweet)
    # A long post's hashtags beyond its first 280 characters are only in note_tweet's entities.
    note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else {}
    hashtags = list(dict.fromkeys(
        h["tag"] for entities in (tweet.get("entities"), note.get("entities")) if isinstance(entities, dict)
        for h in entities.get("hashtags") or [] if isinstance(h, dict) and h.get("tag")
    ))
    assets, described, duration = [], [], None
    for key in (tweet.get("attachments") or {}).get("media_keys") or []:
        found = media.get(key)
        if found is None:
            if primary:  # the media expansion covers the page's own posts, not referenced ones
                page.skip("media_unavailable")
            continue
        kind = found.get("type")
        described.append({k: found.get(k) for k in ("media_key", "type", "width", "height", "duration_ms")})
        if kind == "photo" and found.get("url"):
            assets.append(MediaAsset(post_id, "image", found["url"]))
        elif kind in VIDEO_TYPES:
            video = best_mp4(found.get("variants"))
            if video:
                assets.append(MediaAsset(post_id, "video", video))
                if duration is None and found.get("duration_ms"):
                    duration = found["duration_ms"] / 1000
            if found.get("preview_image_url"):
                assets.append(MediaAsset(post_id, "image", found["preview_image_url"]))
    attributes: dict[str, Any] = {
        "author_id": tweet.get("author_id"),
        "created_at": tweet.get("created_at"),
        "lang": tweet.get("lang"),
        "conversation_id": tweet.get("conversation_id"),
        "public_metrics": tweet.get("public_metrics"),
        "hashtags": hashtags,
        "referenced_tweets": [{"type": r.get("type"), "id": r.get("id")}
                              for r in tweet.get("referenced_tweets") or [] if isinstance(r, dict)],
    }
    # Under the keys `align assets` plans from, so a later re-plan finds the same media.
    images = [a.uri for a in assets if a.modality == "image"]
    videos = [a.uri for a in assets if a.modality == "video"]
    if described:
        attributes["media"] = described
    if images:
        attributes["images"] = images
    if videos:
        attributes["videos"] = videos
    year = datetime.fromtimestamp(ts, UTC).year
    return ItemRecord(post_id, None, year, hashtags, attributes, post_text(tweet)), assets, duration


def _ts(tweet: dict[str, Any]) -> int:
    return normalize_time(tweet.get("created_at"), record=f"post {tweet.get('id')} created_at").ts


def _errors_by_id(errors: list[Any]) -> dict[str, str]:
    """resource id -> the API's reason, for users it could not return (deleted, suspended)."""
    reasons = {}
    for error in errors:
        if isinstance(error, dict) and error.get("resource_type", "user") == "user":
            key = error.get("resource_id") or error.get("value")
            if key:
                reasons[str(key)] = str(error.get("detail") or error.get("title") or "unavailable")
    return reasons
