"""Amazon Reviews on real lines (``../shared/real/amazon``): 2014-style metadata written as
Python literals (nested ``categories``, ``imUrl``, ``salesRank``), 2018 reviews with ``vote``
and ``style``, a 2023 review with ``helpful_vote`` and ``asin`` beside ``parent_asin``.
Expected values are read from the artifact here, with ``ast``/``json``, never from our parser."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
from support.real_files import real_path

from timgen_data.collectors.amazon import collect_amazon, get_release, parse_review
from timgen_data.store import Store, fetch_rows


def real_file(*parts: str) -> Path:
    return real_path("amazon", *parts, what="real Amazon lines")


def flattened(paths: list[list[str]]) -> list[str]:
    seen: list[str] = []
    for path in paths:
        for name in path:
            if name not in seen:
                seen.append(name)
    return seen


def earliest_reviews(lines: list[dict], user: str, item: str, when: str) -> dict[tuple[str, str], dict]:
    kept: dict[tuple[str, str], dict] = {}
    for line in lines:
        key = (line[user], line[item])
        if key not in kept or line[when] < kept[key][when]:
            kept[key] = line
    return kept


def stored_comments(store: Store) -> dict[tuple[str, str], tuple]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.external_id, i.external_id, x.value, x.attributes FROM interactions x "
                                "JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id "
                                "WHERE x.action = 'comment'")
    return {(u, i): (value, json.loads(attributes) if attributes else None) for u, i, value, attributes in rows}


@pytest.fixture
def collected_2018(tmp_path) -> tuple[Store, list[dict], list[dict]]:
    """The real 2018 review lines and 2014-style metadata lines, collected as the 2018 release."""
    reviews, meta = real_file("2018", "Video_Games.json"), real_file("2018", "meta_Video_Games.json")
    folder = tmp_path / "files"
    folder.mkdir()
    release = get_release("2018")
    # The release's own file names (gzip is optional: plain lines are read as they are).
    shutil.copyfile(reviews, folder / release.review_file("Video_Games"))
    shutil.copyfile(meta, folder / release.meta_file("Video_Games"))
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    report = collect_amazon(store, "2018", "Video_Games", data_dir=tmp_path / "data", meta=True, from_file=folder)
    assert report.rejections.count == 0
    review_lines = [json.loads(line) for line in reviews.read_text(encoding="utf-8").splitlines() if line.strip()]
    meta_lines = [ast.literal_eval(line) for line in meta.read_text(encoding="utf-8").splitlines() if line.strip()]
    yield store, review_lines, meta_lines
    store.dispose()


def test_2014_style_metadata_keeps_its_categories_image_and_sales_rank(collected_2018):
    store, _reviews, meta_lines = collected_2018
    with store.begin() as conn:
        items = {e: (title, category, json.loads(categories), json.loads(attributes)) for e, title, category,
                 categories, attributes in fetch_rows(conn, "SELECT external_id, title, category, categories, "
                                                            "attributes FROM items")}
        assets = fetch_rows(conn, "SELECT i.external_id, a.modality, a.uri FROM assets a "
                                  "JOIN items i ON i.id = a.item_id")
    assert len(meta_lines) == 3
    for line in meta_lines:
        title, category, categories, attributes = items[line["asin"]]
        expected = flattened(line["categories"])
        assert categories == expected and expected  # nested paths flattened, in order, each once
        assert category == line["categories"][0][0]  # the top of the first path: a class such as "Toys & Games"
        assert title == line["title"]
        assert attributes["salesRank"] == line["salesRank"]
        assert (line["asin"], "image", line["imUrl"]) in assets
    assert {i for i, modality, _ in assets if modality == "image"} >= {line["asin"] for line in meta_lines}


def test_2018_reviews_keep_votes_as_numbers_and_their_style(collected_2018):
    store, review_lines, _meta = collected_2018
    comments = stored_comments(store)
    kept = earliest_reviews(review_lines, "reviewerID", "asin", "unixReviewTime")
    assert len(comments) == len(kept)
    voted = styled = 0
    for key, line in kept.items():
        value, attributes = comments[key]
        assert value == line["overall"]
        expected = {}
        if "vote" in line:
            expected["helpful_votes"] = int(line["vote"].replace(",", ""))
            voted += 1
        if "style" in line:
            expected["style"] = {k.strip().rstrip(":"): v.strip() for k, v in line["style"].items()}
            styled += 1
        assert (attributes or {}) == expected, key
    assert voted >= 1 and styled >= 2  # the real lines do carry both


def test_2023_review_keeps_its_helpful_votes_and_no_redundant_variant(tmp_path):
    review = json.loads(real_file("2023", "All_Beauty.jsonl").read_text(encoding="utf-8").splitlines()[0])
    meta = real_file("2023", "meta_All_Beauty.jsonl")
    folder = tmp_path / "files"
    folder.mkdir()
    release = get_release("2023")
    shutil.copyfile(real_file("2023", "All_Beauty.jsonl"), folder / release.review_file("All_Beauty"))
    shutil.copyfile(meta, folder / release.meta_file("All_Beauty"))
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        collect_amazon(store, "2023", "All_Beauty", data_dir=tmp_path / "data", meta=True, from_file=folder)
        comments = stored_comments(store)
    finally:
        store.dispose()
    value, attributes = comments[(review["user_id"], review["parent_asin"])]
    assert value == review["rating"]
    expected = {"helpful_votes": review["helpful_vote"]}
    if review["asin"] != review["parent_asin"]:
        expected["asin"] = review["asin"]
    assert attributes == expected


def test_variants_photos_and_counts_with_separators_are_kept():
    """Shapes the real slices lack: a variant of a parent item with photos (2023), a vote
    "1,234" and an image list (2018), a 2014-style ``helpful`` pair."""
    line_2023 = json.loads(real_file("2023", "All_Beauty.jsonl").read_text(encoding="utf-8").splitlines()[0])
    photo = {"small_image_url": "https://img.example/s.jpg", "medium_image_url": "https://img.example/m.jpg",
             "large_image_url": "https://img.example/l.jpg", "attachment_type": "IMAGE"}
    review = parse_review({**line_2023, "asin": "B0VARIANT", "images": [photo]}, get_release("2023"))
    assert review.item == line_2023["parent_asin"]
    assert review.attributes == {"helpful_votes": line_2023["helpful_vote"], "asin": "B0VARIANT"}
    assert review.images == ["https://img.example/l.jpg"]

    line_2018 = json.loads(real_file("2018", "Video_Games.json").read_text(encoding="utf-8").splitlines()[-2])
    review = parse_review({**line_2018, "vote": "1,234", "image": ["https://img.example/r.jpg"]}, get_release("2018"))
    assert review.attributes["helpful_votes"] == 1234
    assert review.images == ["https://img.example/r.jpg"]
    unreadable = parse_review({**line_2018, "vote": "many"}, get_release("2018"))
    assert "helpful_votes" not in unreadable.attributes  # the review stays; the count is no count

    line_2014 = {k: v for k, v in line_2018.items() if k not in ("vote", "style")} | {"helpful": [2, 3]}
    assert parse_review(line_2014, get_release("2018")).attributes == {"helpful_votes": 2, "total_votes": 3}
