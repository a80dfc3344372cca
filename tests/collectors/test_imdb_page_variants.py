"""Title and review pages in the shapes IMDb's pages and schema.org allow: each variant built
here, small, and read by the same parsers a crawl uses (docs/collecting.md says which shapes
were seen on public pages)."""

from __future__ import annotations

import json

import pytest

from timgen_data.collectors.imdb import parse_review_page, parse_title_page

URL = "https://www.imdb.com/title/tt0000001/"
YOUTUBE = "https://www.youtube.com/embed/aBcDeF12345"


def page(*objects, script_type: str = "application/ld+json") -> str:
    scripts = "".join(f'<script type="{script_type}">{json.dumps(o)}</script>' for o in objects)
    return f"<html><head>{scripts}</head><body></body></html>"


def movie(**fields) -> dict:
    return {"@context": "https://schema.org", "@type": "Movie", "name": "A Film", **fields}


def parse(text: str):
    return parse_title_page(text, URL, "tt0000001")


@pytest.mark.parametrize("rating, value, count", [
    (None, None, None),  # a title nobody rated has no aggregateRating
    ({"@type": "AggregateRating", "ratingValue": 8.7, "ratingCount": 2045000, "bestRating": 10, "worstRating": 1},
     8.7, 2045000),
    ({"ratingValue": "8.3", "ratingCount": "1,039,309", "bestRating": "10.0", "worstRating": "1.0"}, 8.3, 1039309),
    ({"ratingCount": 12}, None, 12),
    ("8.1", None, None),  # not an object: ignored, not a crash
])
def test_aggregate_rating_variants(rating, value, count):
    item = parse(page(movie(**({} if rating is None else {"aggregateRating": rating}))))
    assert (item.name, item.rating_value, item.rating_count) == ("A Film", value, count)


@pytest.mark.parametrize("published, year", [
    ("2019-05-03", 2019), ("2019-05-03T00:00:00Z", 2019), ("2019-05-03T07:00:00-07:00", 2019),
    ("2019", 2019), ("3 May 2019", 2019), (None, None), ("", None), ("soon", None),
])
def test_date_published_variants(published, year):
    item = parse(page(movie(**({} if published is None else {"datePublished": published}))))
    assert item.year == year
    assert item.date_published == (published or None)


@pytest.mark.parametrize("trailer, uri", [
    (None, None),
    ({"@type": "VideoObject", "name": "Trailer", "embedUrl": YOUTUBE}, "youtube:aBcDeF12345"),
    ({"@type": "VideoObject", "embedUrl": "https://www.imdb.com/video/imdb/vi1234567/",
      "url": "https://www.imdb.com/video/vi1234567/"}, "https://www.imdb.com/video/imdb/vi1234567/"),
    ({"@type": "VideoObject", "url": "/video/vi7654321/"}, "https://www.imdb.com/video/vi7654321/"),
    ({"@type": "VideoObject", "contentUrl": "https://cdn.example.org/trailer.mp4"},
     "https://cdn.example.org/trailer.mp4"),
    ([{"@type": "VideoObject", "name": "no address"}, {"@type": "VideoObject", "url": YOUTUBE}],
     "youtube:aBcDeF12345"),
    ([], None),
    ({"@type": "VideoObject", "embedUrl": 7}, None),  # not a URL: no trailer rather than a wrong one
])
def test_trailer_variants(trailer, uri):
    item = parse(page(movie(**({} if trailer is None else {"trailer": trailer}))))
    assert item.trailer == uri


@pytest.mark.parametrize("types, kind", [
    ("Movie", "Movie"), ("TVSeries", "TVSeries"), ("TVEpisode", "TVEpisode"),
    (["Movie"], "Movie"), (["CreativeWork", "TVSeries"], "TVSeries"), (["Thing"], "Thing"),
])
def test_type_variants(types, kind):
    crumbs = {"@type": "BreadcrumbList", "name": "crumbs", "itemListElement": []}
    item = parse(page(crumbs, {"@type": types, "name": "A Title"}))
    assert (item.name, item.title_type) == ("A Title", kind)


def test_the_title_object_inside_a_graph_is_found():
    item = parse(page({"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "url": URL}, {"@type": ["TVSeries"], "name": "A Series", "genre": ["Crime", "Drama"]}]}))
    assert (item.name, item.title_type, item.genres) == ("A Series", "TVSeries", ["Crime", "Drama"])


def test_html_escaped_text_and_the_other_value_shapes():
    item = parse(page(movie(
        name="Amélie &amp; the Kid&apos;s &quot;Day&quot;", description="Two &lt;em&gt;friends&lt;/em&gt;&#39; tale",
        genre="Comedy", duration="PT1H55M", image={"@type": "ImageObject", "contentUrl": "/poster.jpg"},
        director=[{"@type": "Person", "name": "A"}, {"@type": "Person", "name": "B"}],
        review={"@type": "Review", "reviewRating": {"@type": "Rating", "ratingValue": 9},
                "author": {"@type": "Person", "name": "someone"}, "dateCreated": "2020-01-01"},
    )))
    assert item.name == "Amélie & the Kid's \"Day\""
    assert item.description == "Two <em>friends</em>' tale"
    assert (item.genres, item.runtime_minutes) == (["Comedy"], 115)
    assert item.image == "https://www.imdb.com/poster.jpg"


def test_script_type_with_parameters_and_raw_line_breaks_in_strings():
    raw = ('<script type="application/ld+json; charset=utf-8">'
           '{"@type": "Movie", "name": "A Film", "description": "line one\nline two"}</script>')
    item = parse(raw)
    assert (item.name, item.description) == ("A Film", "line one line two")


def test_reviews_in_imdb_earlier_markup():
    html = """
    <div class="lister-item mode-detail imdb-user-review collapsable" data-review-id="rw1234567">
      <div class="review-container"><div class="lister-item-content">
        <div class="ipl-ratings-bar"><span class="rating-other-user-rating">
          <svg class="ipl-icon ipl-star-icon"></svg><span>8</span><span class="point-scale">/10</span>
        </span></div>
        <a href="/review/rw1234567/?ref_=tt_urv" class="title"> A headline
        </a>
        <div class="display-name-date"><span class="display-name-link">
          <a href="/user/ur7654321/?ref_=tt_urv">someone</a></span>
          <span class="review-date">3 May 2019</span></div>
        <div class="content"><div class="text show-more__control">First line.<br><br>Second line.</div></div>
      </div></div>
    </div>
    <div class="lister-item mode-detail imdb-user-review" data-review-id="rw7654321">
      <a href="/review/rw7654321/" class="title">Unrated</a>
      <span class="display-name-link"><a href="/user/ur1111111/">other</a></span>
      <span class="review-date">1 January 2020</span>
      <div class="text show-more__control">No stars.</div>
    </div>
    <div class="load-more-data" data-key="abc123"></div>
    """
    parsed = parse_review_page(html, "https://www.imdb.com/title/tt0000001/reviews/", "tt0000001")
    first, second = parsed.reviews
    assert (first.review_id, first.user_id, first.user_name, first.rating, first.date) == (
        "rw1234567", "ur7654321", "someone", "8", "3 May 2019")
    assert (first.headline, first.text) == ("A headline", "First line. Second line.")
    assert (second.review_id, second.user_id, second.rating, second.text) == (
        "rw7654321", "ur1111111", None, "No stars.")
    assert parsed.next_url == "https://www.imdb.com/title/tt0000001/reviews/?paginationKey=abc123"
