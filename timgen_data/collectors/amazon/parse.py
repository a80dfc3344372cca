"""Pure parsing: one decoded review or metadata object of either release → records.

No I/O here; tests feed saved objects and compare with the expected records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from timgen_data.collectors.amazon.releases import Release
from timgen_data.collectors.records import ItemRecord
from timgen_data.timeline import normalize_time

# Metadata fields kept as item attributes (what is not already a column or an asset).
_META_ATTRIBUTES = ("price", "features", "feature", "store", "brand", "details", "average_rating", "rating_number",
                    "main_cat", "rank", "date")


@dataclass(frozen=True)
class Review:
    user: str
    item: str
    ts: int  # UTC epoch seconds
    rating: float | None
    verified: bool
    text: str | None = None  # the headline and the body, as the reviewer wrote them


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
    return Review(user, item, ts, _number(rating), bool(verified), text)


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
        categories = _unique(_strings(obj.get("category")))
        images = _strings(obj.get("imageURLHighRes")) or _strings(obj.get("imageURL"))
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
