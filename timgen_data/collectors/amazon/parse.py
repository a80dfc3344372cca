"""Pure parsing: one decoded review or metadata object of either release → records.

No I/O here; tests feed saved objects and compare with the expected records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from timgen_data.collectors.amazon.releases import Release
from timgen_data.collectors.records import ItemRecord
from timgen_data.timeline import normalize_time

# Metadata fields kept as item attributes (what is not already a column or an asset);
# ``salesRank`` is the 2014-style dumps' {category: rank}.
_META_ATTRIBUTES = ("price", "features", "feature", "store", "brand", "details", "average_rating", "rating_number",
                    "main_cat", "rank", "date", "salesRank")


@dataclass(frozen=True)
class Review:
    user: str
    item: str
    ts: int  # UTC epoch seconds
    rating: float | None
    verified: bool
    text: str | None = None  # the headline and the body, as the reviewer wrote them
    # What the release says of this review and no column holds: helpful_votes (and total_votes
    # in 2014-style lines), style (the variant's format, size, colour …), asin (the variant
    # reviewed, where the item is its parent).
    attributes: dict[str, Any] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)  # the reviewer's photos: image assets of the item


@dataclass(frozen=True)
class Meta:
    item: ItemRecord
    media: list[tuple[str, str]]  # (modality, url)


def parse_review(obj: dict[str, Any], release: Release, *, record: str | None = None) -> Review:
    """A review object → :class:`Review`; raises ValueError (TimeValueError included) when unusable."""
    if release.name == "2023":
        user, item, when, rating, verified = (obj.get("user_id"), obj.get("parent_asin") or obj.get("asin"),
                                              obj.get("timestamp"), obj.get("rating"), obj.get("verified_purchase"))
    else:
        user, item, when, rating, verified = (obj.get("reviewerID"), obj.get("asin"), obj.get("unixReviewTime"),
                                              obj.get("overall"), obj.get("verified"))
    user, item = _identifier(user, "user id"), _identifier(item, "item id")
    if not user or not item:
        raise ValueError("review without a user id or an item id")
    if when is None:
        raise ValueError("review without a timestamp")
    ts = normalize_time(when, unit=release.time_unit, record=record).ts
    headline, body = (obj.get("title"), obj.get("text")) if release.name == "2023" else (obj.get("summary"),
                                                                                        obj.get("reviewText"))
    text = "\n".join(_storable(part) for part in (headline, body) if part and _storable(part)) or None
    return Review(user, item, ts, _number(rating), bool(verified), text, _review_attributes(obj, release, item),
                  _review_images(obj.get("images") if release.name == "2023" else obj.get("image")))


def _review_attributes(obj: dict[str, Any], release: Release, item: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if release.name == "2023":
        votes = _count(obj.get("helpful_vote"))
        variant = obj.get("asin")
        if isinstance(variant, str) and variant and variant != item and "\x00" not in variant:
            attributes["asin"] = variant
    else:
        votes = _count(obj.get("vote"))  # 2018: text, with thousands separators ("1,234")
        helpful = obj.get("helpful")  # 2014: [helpful votes, all votes]
        if votes is None and isinstance(helpful, list) and len(helpful) == 2:
            votes, total = _count(helpful[0]), _count(helpful[1])
            if total is not None:
                attributes["total_votes"] = total
        style = _style(obj.get("style"))
        if style:
            attributes["style"] = style
    if votes is not None:
        attributes = {"helpful_votes": votes, **attributes}
    return attributes


def _count(value: Any) -> int | None:
    """A vote count as an int ("1,234" → 1234); None for anything that is not one."""
    if isinstance(value, str):
        value = value.replace(",", "").strip()
        return int(value) if value.isascii() and value.isdigit() else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value) if math.isfinite(value) and value >= 0 and value == int(value) else None


def _style(style: Any) -> dict[str, str]:
    """A review's variant ({"Format:": " Hardcover"}) without the release's stray colons and spaces."""
    if not isinstance(style, dict):
        return {}
    cleaned = {_storable(k).rstrip(":").strip(): _storable(v) for k, v in style.items()
               if isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)}
    return {k: v for k, v in cleaned.items() if k and v}


def _review_images(images: Any) -> list[str]:
    """The largest URL of each photo: 2023 gives dicts of sizes, 2018 a list of URLs."""
    urls = []
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict):
            image = image.get("large_image_url") or image.get("medium_image_url") or image.get("small_image_url")
        if _is_url(image):
            urls.append(image)
    return list(dict.fromkeys(urls))


def parse_meta(obj: dict[str, Any], release: Release) -> Meta:
    """A metadata object → the item (title, description, classes, attributes) and its media URLs."""
    item_id = _identifier(obj.get("parent_asin") if release.name == "2023" else obj.get("asin"), "item id")
    if not item_id:
        raise ValueError("metadata without an item id")
    if release.name == "2023":
        categories = _unique([*_strings(obj.get("main_category")), *_strings(obj.get("categories"))])
        media = [("image", url) for url in _image_urls_2023(obj.get("images"))]
        media += [("video", url) for url in _video_urls(obj.get("videos"))]
    else:
        # 2018 lines list ``category``; 2014-style ones ``categories``, a list of paths from the
        # top category down: flattened in order, so the first (the top of the first path) is the class.
        categories = _unique([*_strings(obj.get("category")), *_strings(obj.get("categories"))])
        images = _strings(obj.get("imageURLHighRes")) or _strings(obj.get("imageURL")) or _strings(obj.get("imUrl"))
        media = [("image", url) for url in images]
    attributes = {key: obj[key] for key in _META_ATTRIBUTES if obj.get(key) not in (None, "", [], {})}
    title = _storable(obj.get("title")) if obj.get("title") else None
    text = "\n".join(_strings(obj.get("description"))) or None
    record = ItemRecord(item_id, title or None, None, categories, attributes, text=text)
    return Meta(record, list(dict.fromkeys(media)))


def _image_urls_2023(images: Any) -> list[str]:
    urls = []
    for image in images if isinstance(images, list) else []:
        if isinstance(image, dict):
            url = image.get("hi_res") or image.get("large")  # the largest offered
            if _is_url(url):
                urls.append(url)
    return urls


def _video_urls(videos: Any) -> list[str]:
    urls = []
    for video in videos if isinstance(videos, list) else []:
        url = video.get("url") if isinstance(video, dict) else video
        if _is_url(url):
            urls.append(url)
    return urls


def _is_url(value: Any) -> bool:
    # A NUL never belongs in a URL, and PostgreSQL text refuses it.
    return isinstance(value, str) and bool(value) and "\x00" not in value


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.replace("\x00", "")  # PostgreSQL text refuses NUL characters
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _unique(values: list[Any]) -> list[str]:
    return list(dict.fromkeys(v for v in values if isinstance(v, str) and v))


def _number(value: Any) -> float | None:
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number is None or math.isfinite(number) else None


def _identifier(value: Any, name: str) -> str | None:
    """An id as text (JSON numbers allowed); any other type makes the line unusable."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"the {name} is {type(value).__name__} {str(value)[:40]!r}, not a string")
    text = str(value)
    if "\x00" in text:
        raise ValueError(f"the {name} {text[:40]!r} holds a NUL character, which no store column can keep")
    return text


def _storable(value: Any) -> str:
    """Free text as the store can keep it: stripped, without NUL characters (PostgreSQL refuses them)."""
    return str(value).replace("\x00", "").strip()
