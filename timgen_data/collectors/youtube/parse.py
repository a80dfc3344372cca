"""Pure parsing of YouTube Data API v3 responses into the store's records.

Every function takes a decoded response body (a dict, exactly as the API sent it or as
a ``--load`` file replays it) and returns records; none does I/O, so the same code
serves live runs and replays, and tests feed them saved responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from timgen_data.collectors.records import ItemRecord, UserRecord
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.errors import TimeValueError
from timgen_data.timeline import normalize_time

# ISO 8601 durations as the API writes them: "PT4M13S", "PT1H", "P1DT2H3M", "P0D" (live).
_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_SECONDS = {"weeks": 604_800, "days": 86_400, "hours": 3_600, "minutes": 60, "seconds": 1}
# Largest first, for when a thumbnail's width and height are not given.
_THUMBNAIL_SIZES = ("maxres", "standard", "high", "medium", "default")
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
# What textFormat=html puts in a comment's textDisplay: line breaks, links, bold/italic/strike
# and character references. Plain text is only decoded when it carries some of it.
_HTML_MARKUP = re.compile(
    r"<(?:br|a|b|i|s|span)(?:\s[^>]*)?/?>|</(?:a|b|i|s|span)>|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")


class Origin(NamedTuple):
    """Where a response is kept: the raw-response file and its line (what rejections cite)."""

    file: str
    line: int


UNSAVED = Origin("response", 0)


@dataclass(frozen=True)
class ParsedVideos:
    items: list[ItemRecord]
    thumbnails: list[tuple[str, str]]  # (video id, URL of the largest thumbnail listed)
    rejections: Rejections = field(default_factory=Rejections)


@dataclass(frozen=True)
class CommentRecord:
    """One comment (top-level or reply) as an interaction: who, on which video, when."""

    comment_id: str
    user: str  # the author's channel id
    video: str
    ts: int
    text: str | None = None  # as written (textOriginal), else the display form as plain text


@dataclass(frozen=True)
class ParsedComments:
    users: list[UserRecord]
    comments: list[CommentRecord]
    rejections: Rejections = field(default_factory=Rejections)
    replies_not_returned: int = 0  # commentThreads.list lists at most a few replies per thread


def is_video_id(value: object) -> bool:
    return isinstance(value, str) and _VIDEO_ID.fullmatch(value) is not None


def duration_seconds(value: object) -> int | None:
    """``PT1H2M3S`` → 3723; None when absent or not an ISO 8601 duration.

    >>> duration_seconds("PT4M13S"), duration_seconds("P1DT1S"), duration_seconds("P0D")
    (253, 86401, 0)
    """
    if not isinstance(value, str):
        return None
    match = _DURATION.fullmatch(value.strip())
    if not match or value.strip() in ("P", "PT"):
        return None
    total = sum(float(amount) * _SECONDS[unit] for unit, amount in match.groupdict().items() if amount)
    return round(total)


def category_ids(body: Mapping[str, Any]) -> set[str]:
    """The ``snippet.categoryId`` values of a videos.list response."""
    return {
        str(cid) for video in body.get("items") or ()
        if (cid := (video.get("snippet") or {}).get("categoryId")) not in (None, "")
    }


def parse_categories(body: Mapping[str, Any]) -> dict[str, str]:
    """videoCategories.list → ``{"10": "Music", …}``."""
    return {
        str(c["id"]): c["snippet"]["title"]
        for c in body.get("items") or ()
        if c.get("id") is not None and (c.get("snippet") or {}).get("title")
    }


def parse_videos(body: Mapping[str, Any], categories: Mapping[str, str | None], *,
                 origin: Origin = UNSAVED) -> ParsedVideos:
    """videos.list (part snippet,contentDetails,statistics,status,topicDetails) → items and
    their thumbnails.

    ``categories`` maps category ids to their names (the item's class label); an id
    missing from it leaves the item without a category. The video's topics (Wikipedia
    pages in ``topicDetails.topicCategories``) follow its category in ``categories``, so
    the class label stays the one YouTube category and the topics reach the item's text;
    a video whose category name is unknown keeps its topics in ``attributes`` only.
    """
    items, thumbnails, rejections = [], [], Rejections()
    for position, video in enumerate(body.get("items") or (), start=1):
        video_id = video.get("id")
        snippet = video.get("snippet")
        if not is_video_id(video_id) or not isinstance(snippet, dict):
            rejections.add(Rejection(*origin, f"item {position}: video {video_id!r} has no valid id or no snippet"))
            continue
        details = video.get("contentDetails") or {}
        stats = video.get("statistics") or {}
        status = video.get("status") or {}
        topic_urls = [str(url) for url in (video.get("topicDetails") or {}).get("topicCategories") or () if url]
        published = snippet.get("publishedAt")
        category_id = snippet.get("categoryId")
        category = categories.get(str(category_id)) if category_id is not None else None
        thumbnail = largest_thumbnail(snippet.get("thumbnails"))
        attributes = {
            "channelId": snippet.get("channelId"),
            "channelTitle": snippet.get("channelTitle"),
            "publishedAt": published,
            "categoryId": str(category_id) if category_id is not None else None,
            "duration": duration_seconds(details.get("duration")),
            "tags": list(snippet.get("tags") or []),
            "viewCount": _count(stats.get("viewCount")),
            "likeCount": _count(stats.get("likeCount")),
            "commentCount": _count(stats.get("commentCount")),
            "defaultAudioLanguage": snippet.get("defaultAudioLanguage"),
            "thumbnail_url": thumbnail,
            "privacyStatus": status.get("privacyStatus"),
            "license": status.get("license"),
            "madeForKids": status.get("madeForKids"),
            "embeddable": status.get("embeddable"),
            "topicCategories": topic_urls,
        }
        topics = [name for name in map(topic_name, topic_urls) if name and name != category]
        items.append(ItemRecord(
            external_id=video_id,
            title=snippet.get("title"),
            year=_year(published),
            categories=list(dict.fromkeys([category, *topics])) if category else [],
            attributes=attributes,
            text=snippet.get("description") or None,
        ))
        if thumbnail:
            thumbnails.append((video_id, thumbnail))
    return ParsedVideos(items, thumbnails, rejections)


def topic_name(url: str) -> str | None:
    """``https://en.wikipedia.org/wiki/Pop_music`` → ``Pop music`` (the page's title).

    >>> topic_name("https://en.wikipedia.org/wiki/Action-adventure_game"), topic_name("x")
    ('Action-adventure game', None)
    """
    path = urlsplit(url).path
    if "/wiki/" not in path:
        return None
    title = unquote(path.rsplit("/wiki/", 1)[1]).replace("_", " ").strip()
    return title or None


def largest_thumbnail(thumbnails: object) -> str | None:
    """The URL of the largest thumbnail listed (by pixels, else by the API's size names)."""
    if not isinstance(thumbnails, dict):
        return None
    listed = [(name, t) for name, t in thumbnails.items() if isinstance(t, dict) and t.get("url")]
    if not listed:
        return None

    def size(entry: tuple[str, dict]) -> tuple[int, int]:
        name, thumb = entry
        pixels = int(thumb.get("width") or 0) * int(thumb.get("height") or 0)
        rank = len(_THUMBNAIL_SIZES) - _THUMBNAIL_SIZES.index(name) if name in _THUMBNAIL_SIZES else 0
        return pixels, rank

    return max(listed, key=size)[1]["url"]


def listed_video_ids(body: Mapping[str, Any]) -> list[str]:
    """Video ids of a search.list (``id.videoId``) or playlistItems.list
    (``contentDetails.videoId`` / ``snippet.resourceId.videoId``) page, in order."""
    found = []
    for entry in body.get("items") or ():
        ident = entry.get("id")
        if isinstance(ident, dict):  # search result
            video_id = ident.get("videoId") if ident.get("kind", "youtube#video") == "youtube#video" else None
        else:  # playlist item
            video_id = (entry.get("contentDetails") or {}).get("videoId") or \
                ((entry.get("snippet") or {}).get("resourceId") or {}).get("videoId")
        if is_video_id(video_id) and video_id not in found:
            found.append(video_id)
    return found


def uploads_playlist(body: Mapping[str, Any]) -> str | None:
    """channels.list (part contentDetails) → the id of the channel's uploads playlist."""
    for channel in body.get("items") or ():
        uploads = ((channel.get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads")
        if uploads:
            return str(uploads)
    return None


def parse_comment_threads(body: Mapping[str, Any], video_id: str, *, origin: Origin = UNSAVED) -> ParsedComments:
    """commentThreads.list (part snippet,replies) → commenters and their comments.

    A comment whose author has no channel id (``authorChannelId.value``) cannot be tied
    to a user and is rejected, as is one without a readable ``publishedAt``.
    """
    found: list[tuple[Mapping[str, Any], str, str]] = []
    missing_replies = 0
    for position, thread in enumerate(body.get("items") or (), start=1):
        snippet = thread.get("snippet") or {}
        video = snippet.get("videoId") or video_id
        top = snippet.get("topLevelComment")
        replies = list((thread.get("replies") or {}).get("comments") or ())
        total_replies = snippet.get("totalReplyCount")
        if isinstance(total_replies, int) and total_replies > len(replies):
            missing_replies += total_replies - len(replies)
        found += [(comment, video, f"thread {position}") for comment in ([top] if top else []) + replies]
    return _parsed_comments(found, origin, missing_replies)


def _parsed_comments(found: Iterable[tuple[Mapping[str, Any], str, str]], origin: Origin,
                     missing_replies: int = 0) -> ParsedComments:
    """Each (comment, its video, where it stands on the page) → its author and the comment;
    one the store cannot take is rejected with the reason."""
    users: dict[str, UserRecord] = {}
    comments: list[CommentRecord] = []
    rejections = Rejections()
    for comment, video, position in found:
        parsed = _comment(comment, video, origin, position, rejections)
        if parsed is not None:
            record, user = parsed
            comments.append(record)
            users[user.external_id] = user
    return ParsedComments(list(users.values()), comments, rejections, missing_replies)


def _comment(comment: Mapping[str, Any], video: str, origin: Origin, position: str,
             rejections: Rejections) -> tuple[CommentRecord, UserRecord] | None:
    comment_id = comment.get("id") or "?"
    snippet = comment.get("snippet") or {}
    author = (snippet.get("authorChannelId") or {}).get("value")
    if not author:
        rejections.add(Rejection(*origin, f"{position}: comment {comment_id} has no authorChannelId.value "
                                          "(no user to tie it to)"))
        return None
    try:
        ts = normalize_time(snippet.get("publishedAt"), record=f"comment {comment_id} publishedAt").ts
    except TimeValueError as exc:
        rejections.add(Rejection(*origin, f"{position}: {exc}"))
        return None
    user = UserRecord(author, {"display_name": snippet.get("authorDisplayName"),
                               "channel_url": snippet.get("authorChannelUrl")})
    return CommentRecord(comment_id, author, video, ts, comment_text(snippet)), user


def comment_text(snippet: Mapping[str, Any]) -> str | None:
    """What the author wrote: ``textOriginal`` where the API sends it, else ``textDisplay``
    as plain text (with textFormat=html, and at times with plainText, the display form
    carries ``<br>``, ``<a href=…>label</a>`` and character references like ``&#39;``)."""
    original = snippet.get("textOriginal")
    if isinstance(original, str) and original:
        return original
    display = snippet.get("textDisplay")
    if not isinstance(display, str) or not display:
        return None
    return html_to_text(display) if _HTML_MARKUP.search(display) else display


def html_to_text(html: str) -> str:
    """A comment's HTML display form as the plain text it shows: ``<br>`` → newline, a
    link → its label, other tags dropped, character references decoded.

    >>> print(html_to_text('Lot&#39;s of <a href="http://x/?q=%23a">#a</a><br />&quot;bye&quot;'))
    Lot's of #a
    "bye"
    """
    reader = _TextOfHtml()
    reader.feed(html)
    reader.close()
    return "".join(reader.parts)


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "br":
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def threads_with_more_replies(body: Mapping[str, Any], video_id: str) -> list[list[Any]]:
    """``[video, thread id, totalReplyCount]`` for each thread of a commentThreads.list page
    that has more replies than the page carries (it lists at most five): the ones whose
    replies comments.list (``parentId``) is asked for."""
    more = []
    for thread in body.get("items") or ():
        snippet = thread.get("snippet") or {}
        total = snippet.get("totalReplyCount")
        included = len((thread.get("replies") or {}).get("comments") or ())
        if thread.get("id") and isinstance(total, int) and total > included:
            more.append([snippet.get("videoId") or video_id, str(thread["id"]), total])
    return more


def parse_replies(body: Mapping[str, Any], video_id: str, *, origin: Origin = UNSAVED) -> ParsedComments:
    """comments.list (``parentId``, part snippet) → the replies' authors and the replies,
    on ``video_id`` (the thread's video: a reply's snippet need not name it)."""
    return _parsed_comments(((comment, video_id, f"reply {position}")
                             for position, comment in enumerate(body.get("items") or (), start=1)), origin)


def _count(value: object) -> int | None:
    # The API sends counts as decimal strings ("1234"); hidden counts are absent.
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _year(published: object) -> int | None:
    if not published:
        return None
    try:
        return datetime.fromtimestamp(normalize_time(published, record="publishedAt").ts, UTC).year
    except TimeValueError:
        return None
