"""Parsing IMDb title pages and user-review pages (pure: HTML text in, items out).

Title pages carry a schema.org ``Movie`` (or ``TVSeries``, ...) object in a
``<script type="application/ld+json">``; that is the only part read, because it is
the page's stable, documented data and does not change with the page's design.

The object is read as IMDb and schema.org allow it to vary (each variant has a test, see
docs/collecting.md for which were seen on public pages): ``@type`` a string or a list
(``Movie``, ``TVSeries``, ``TVEpisode`` ...), possibly inside a ``@graph``; ``aggregateRating``
missing or with numbers as strings ("1,234"); ``datePublished`` a date, a date and time, a
bare year or missing; ``trailer`` missing, one ``VideoObject`` or a list of them, its address in
``embedUrl``, ``url`` or ``contentUrl``; ``image`` a URL or an ``ImageObject``; ``genre`` a
string or a list; text HTML-escaped inside the JSON strings.

Review pages are read with Scrapy selectors, expecting this shape::

    <div class="review" data-review-id="rw0000001">
      <span class="rating"><span class="rating-value">9</span>/10</span>   (optional)
      <a class="title" href="/review/rw0000001/">Headline</a>
      <span class="display-name"><a href="/user/ur0000001/">name</a></span>
      <span class="review-date">15 March 2020</span>
      <div class="text">The review.</div>
    </div>
    ...
    <div class="load-more" data-key="KEY">
      <a class="load-more-link" href="/title/tt.../reviews/?paginationKey=KEY">Load more</a>
    </div>

or IMDb's earlier markup of the same pieces, which public scrapers read:
``div.imdb-user-review[data-review-id]``, ``span.rating-other-user-rating > span`` (then
``span.point-scale`` "/10"), ``span.display-name-link a``, ``span.review-date``, ``a.title``,
``div.text`` and ``div.load-more-data[data-key]``.

The next page is the "load more" link, or, when only the key is there, the reviews
URL with ``?paginationKey=KEY``.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from scrapy import Selector

from timgen_data.collectors.imdb.items import ReviewItem, TitleItem

TCONST = re.compile(r"tt\d{7,}")
_USER = re.compile(r"/user/(ur\d+)")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.IGNORECASE)
_YEAR = re.compile(r"\b(\d{4})\b")
_YOUTUBE = re.compile(
    r"(?:youtube(?:-nocookie)?\.com/(?:watch\?(?:.*&)?v=|embed/|shorts/|v/)|youtu\.be/)([A-Za-z0-9_-]{11})(?![A-Za-z0-9_-])"
)
_SPACE = re.compile(r"\s+")
# schema.org types of the object that describes the title itself (not breadcrumbs etc.).
TITLE_TYPES = ("Movie", "TVSeries", "TVEpisode", "TVMiniSeries", "CreativeWork", "VideoGame", "Episode")


@dataclass
class ReviewPage:
    tconst: str
    reviews: list[ReviewItem] = field(default_factory=list)
    next_url: str | None = None


def title_url(base_url: str, tconst: str) -> str:
    return f"{base_url.rstrip('/')}/title/{tconst}/"


def reviews_url(base_url: str, tconst: str) -> str:
    return f"{base_url.rstrip('/')}/title/{tconst}/reviews/"


def parse_title_page(text: str, url: str, tconst: str) -> TitleItem:
    """The title's JSON-LD as a ``TitleItem``; only ``tconst`` and ``url`` when the page has none."""
    item = TitleItem(tconst=tconst, url=url)
    # ^= also takes a type with parameters ("application/ld+json; charset=utf-8").
    data = _title_object(Selector(text=text).css('script[type^="application/ld+json"]::text').getall())
    if data is None:
        return item
    item.name = _text(data.get("name"))
    item.description = _text(data.get("description"))
    item.image = _first_url(data.get("image"))
    item.trailer = trailer_uri(data.get("trailer"), base=url)
    item.genres = [g for g in (_text(g) for g in _as_list(data.get("genre"))) if g]
    item.date_published = _text(data.get("datePublished"))
    if item.date_published and (match := _YEAR.search(item.date_published)):
        item.year = int(match.group(1))
    item.runtime_minutes = duration_minutes(_text(data.get("duration")))
    rating = data.get("aggregateRating")
    if isinstance(rating, dict):
        item.rating_value = _number(rating.get("ratingValue"), float)
        item.rating_count = _number(rating.get("ratingCount"), int)
    types = [t for t in _as_list(data.get("@type")) if isinstance(t, str)]
    # ["CreativeWork", "Movie"] is a movie: the title's own type before a generic one.
    specific = [t for t in types if t in TITLE_TYPES and t != "CreativeWork"]
    item.title_type = specific[0] if specific else types[0] if types else None
    if item.image:
        item.image = urljoin(url, item.image)
    return item


def parse_review_page(text: str, url: str, tconst: str) -> ReviewPage:
    """Every review on a reviews page, in page order, and the next page's URL (if any)."""
    page = ReviewPage(tconst)
    selector = Selector(text=text)
    for position, review in enumerate(selector.css("div.review, div.imdb-user-review"), start=1):
        user_href = review.css(".display-name a::attr(href), .display-name-link a::attr(href)").get() or ""
        user = _USER.search(user_href)
        page.reviews.append(ReviewItem(
            review_id=_clean(review.attrib.get("data-review-id")) or "",
            tconst=tconst,
            page_url=url,
            position=position,
            user_id=user.group(1) if user else None,
            user_name=_clean(" ".join(review.css(".display-name a ::text, .display-name-link a ::text").getall())),
            date=_clean(" ".join(review.css(".review-date ::text").getall())),
            rating=_clean(" ".join(review.css(
                ".rating .rating-value ::text, .rating-other-user-rating > span:not(.point-scale) ::text").getall())),
            headline=_clean(" ".join(review.css("a.title ::text").getall())),
            text=_clean(" ".join(review.css("div.text ::text").getall())),
        ))
    href = selector.css("a.load-more-link::attr(href)").get()
    key = selector.css("div.load-more::attr(data-key), div.load-more-data::attr(data-key)").get()
    if href:
        page.next_url = urljoin(url, href)
    elif key:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        query["paginationKey"] = key
        page.next_url = parts._replace(query=urlencode(query)).geturl()
    return page


def duration_minutes(value: str | None) -> int | None:
    """Minutes in an ISO 8601 duration such as ``PT2H16M``; None when it is not one.

    >>> duration_minutes("PT2H16M"), duration_minutes("PT95M"), duration_minutes("2h")
    (136, 95, None)
    """
    if not value:
        return None
    match = _DURATION.fullmatch(value.strip())
    if not match or not any(match.groups()):
        return None
    days, hours, minutes, seconds = match.groups()
    total = int(days or 0) * 1440 + int(hours or 0) * 60 + int(minutes or 0) + float(seconds or 0) / 60
    return round(total)


def trailer_uri(trailer: Any, *, base: str = "") -> str | None:
    """The asset uri of a JSON-LD ``trailer``: ``youtube:<id>`` for YouTube, else its URL."""
    for video in _as_list(trailer):
        if isinstance(video, str):
            candidates = [video]
        elif isinstance(video, dict):
            candidates = [c for c in (video.get("embedUrl"), video.get("url"), video.get("contentUrl"))
                          if isinstance(c, str) and c]
        else:
            continue
        for candidate in candidates:
            if match := _YOUTUBE.search(candidate):
                return f"youtube:{match.group(1)}"
        if candidates:
            return urljoin(base, candidates[0])
    return None


def _title_object(scripts: list[str]) -> dict[str, Any] | None:
    """The JSON-LD object describing the title; a page may also hold breadcrumbs and the like."""
    found: list[dict[str, Any]] = []
    for script in scripts:
        try:
            # strict=False: a raw line break inside a description string is still its text.
            data = json.loads(script, strict=False)
        except ValueError:
            continue  # a broken block elsewhere on the page must not hide a good one
        for obj in _as_list(data):
            if isinstance(obj, dict):
                found.extend(o for o in [obj, *_as_list(obj.get("@graph"))] if isinstance(o, dict))
    for obj in found:
        types = set(_as_list(obj.get("@type")))
        if types & set(TITLE_TYPES) and obj.get("name"):
            return obj
    return next((obj for obj in found if obj.get("name") and "BreadcrumbList" not in _as_list(obj.get("@type"))), None)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _first_url(value: Any) -> str | None:
    for entry in _as_list(value):
        if isinstance(entry, str) and entry:
            return entry
        if isinstance(entry, dict):
            for key in ("url", "contentUrl"):  # an ImageObject names its file either way
                if isinstance(entry.get(key), str) and entry[key]:
                    return entry[key]
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    # IMDb's JSON-LD escapes text as HTML (&apos;, &amp;) inside the JSON strings.
    return _clean(html.unescape(value))


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = _SPACE.sub(" ", value).strip()
    return value or None


def _number(value: Any, kind: type) -> Any:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).replace(",", ""))
    except ValueError:
        return None
    return kind(number) if number == number else None  # NaN is no number
