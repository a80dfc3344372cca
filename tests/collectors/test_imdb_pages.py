"""IMDb page parsing on saved pages (expected output beside each), and the item pipelines'
validation and deduplication, without a crawl."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy.exceptions import DropItem

from timgen_data.collectors.imdb import duration_minutes, parse_review_page, parse_title_page
from timgen_data.collectors.imdb.items import ReviewItem, TitleItem
from timgen_data.collectors.imdb.pages import trailer_uri
from timgen_data.collectors.imdb.pipelines import DedupePipeline, ValidatePipeline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imdb"


def expected(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["title-tt0133093", "title-tt0114709"])
def test_title_pages_match_their_expected_output(name):
    want = expected(name)
    item = parse_title_page((FIXTURES / f"{name}.html").read_text(encoding="utf-8"), want["url"], want["tconst"])
    assert asdict(item) == want["item"]


@pytest.mark.parametrize("name", ["reviews-tt0133093-1", "reviews-tt0133093-2", "reviews-tt0114709-1"])
def test_review_pages_match_their_expected_output(name):
    want = expected(name)
    page = parse_review_page((FIXTURES / f"{name}.html").read_text(encoding="utf-8"), want["url"], want["tconst"])
    assert page.next_url == want["next_url"]
    assert [asdict(r) for r in page.reviews] == want["reviews"]


def test_what_the_title_fixtures_exercise():
    matrix, toy = expected("title-tt0133093")["item"], expected("title-tt0114709")["item"]
    assert matrix["runtime_minutes"] == 136 and matrix["genres"] == ["Action", "Sci-Fi"]  # PT2H16M, a list
    assert "&amp;" not in matrix["description"] and "&" in matrix["description"]  # HTML entities decoded
    assert toy["genres"] == ["Animation"] and toy["rating_count"] == 1_100_000  # a str genre, "1,100,000"
    assert toy["trailer"] == "youtube:aBcDeF12345"  # a YouTube embed becomes the yt-dlp asset uri
    assert toy["image"].endswith("/media/tt0114709-poster.jpg")  # ImageObject with a relative url


def test_page_without_json_ld_gives_a_bare_item_and_a_broken_block_is_skipped():
    bare = parse_title_page("<html><body>nothing here</body></html>", "https://x/title/tt0000001/", "tt0000001")
    assert bare.name is None and bare.genres == []
    page = ('<script type="application/ld+json">{not json</script>'
            '<script type="application/ld+json">{"@type":"TVSeries","name":"A Show","genre":"Drama"}</script>')
    item = parse_title_page(page, "https://x/title/tt0000002/", "tt0000002")
    assert (item.name, item.genres, item.title_type) == ("A Show", ["Drama"], "TVSeries")


def test_pagination_key_without_a_link_builds_the_next_url():
    page = parse_review_page('<div class="load-more" data-key="k 2"></div>',
                             "https://x/title/tt0000001/reviews/?sort=date", "tt0000001")
    assert page.next_url == "https://x/title/tt0000001/reviews/?sort=date&paginationKey=k+2"
    assert page.reviews == []


@pytest.mark.parametrize("value, minutes", [
    ("PT2H16M", 136), ("PT95M", 95), ("PT1H", 60), ("P1DT1H", 1500), ("PT90S", 2), ("pt1h30m", 90),
    ("P", None), ("2h 16m", None), ("", None), (None, None),
])
def test_iso_durations(value, minutes):
    assert duration_minutes(value) == minutes


@pytest.mark.parametrize("trailer, uri", [
    ({"embedUrl": "https://www.youtube.com/embed/aBcDeF12345"}, "youtube:aBcDeF12345"),
    ({"url": "https://youtu.be/aBcDeF12345"}, "youtube:aBcDeF12345"),
    ("https://www.youtube.com/watch?feature=x&v=aBcDeF12345", "youtube:aBcDeF12345"),
    ([{"name": "no url"}, {"url": "/video/vi1/"}], "https://www.imdb.com/video/vi1/"),
    (None, None),
])
def test_trailer_uris(trailer, uri):
    assert trailer_uri(trailer, base="https://www.imdb.com/title/tt0000001/") == uri


class _Stats:
    def __init__(self):
        self.values: dict[str, int] = {}

    def inc_value(self, key, count=1):
        self.values[key] = self.values.get(key, 0) + count


@pytest.fixture
def crawler():
    return SimpleNamespace(stats=_Stats(), spider=SimpleNamespace(drops=[]))


def review(**changes) -> ReviewItem:
    fields = {"review_id": "rw1", "tconst": "tt0000001", "page_url": "https://x/title/tt0000001/reviews/",
              "position": 4, "user_id": "ur1", "date": "15 March 2020", "rating": "8"}
    return ReviewItem(**{**fields, **changes})


def test_validation_fills_ts_and_value_at_day_precision(crawler):
    validate = ValidatePipeline(crawler)
    kept = validate.process_item(review())
    assert (kept.ts, kept.value) == (1584230400, 8.0)  # 2020-03-15T00:00:00Z
    no_rating = validate.process_item(review(rating=None, date="2021-06-01"))
    assert (no_rating.ts, no_rating.value) == (1622505600, None)


@pytest.mark.parametrize("changes, reason", [
    ({"date": "sometime last spring"}, "bad_date"),
    ({"date": None}, "bad_date"),
    ({"rating": "11"}, "bad_rating"),
    ({"rating": "great"}, "bad_rating"),
    ({"user_id": None}, "no_reviewer"),
    ({"review_id": ""}, "no_review_id"),
])
def test_validation_drops_with_a_counted_reason_and_a_place(crawler, changes, reason):
    with pytest.raises(DropItem):
        ValidatePipeline(crawler).process_item(review(**changes))
    assert crawler.stats.values == {f"imdb/dropped/{reason}": 1}
    [drop] = crawler.spider.drops
    assert (drop["reason"], drop["position"], drop["page"]) == (reason, 4, "https://x/title/tt0000001/reviews/")


def test_title_without_json_ld_is_dropped(crawler):
    with pytest.raises(DropItem, match="JSON-LD"):
        ValidatePipeline(crawler).process_item(TitleItem("tt0000001", "https://x/title/tt0000001/"))
    assert crawler.stats.values == {"imdb/dropped/no_json_ld": 1}


def test_dedupe_drops_a_review_seen_before(crawler):
    dedupe = DedupePipeline(crawler)
    dedupe.process_item(review())
    dedupe.process_item(review(review_id="rw2"))
    with pytest.raises(DropItem, match="rw1"):
        dedupe.process_item(review(position=9))
    assert crawler.stats.values == {"imdb/dropped/duplicate_review": 1}
