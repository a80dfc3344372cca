"""Amazon Reviews collection: both releases' file shapes gzipped and served from a loopback
server, with a line cut in half, a Python-literal metadata line, duplicate reviews and
millisecond timestamps; re-runs, an interrupted run, and the CLI."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from support.http_server import LoopbackServer
from support.progress import RecordingProgress

from timgen_data.cli import cli
from timgen_data.collectors.amazon import (
    collect_amazon,
    collector,
    decode_line,
    get_release,
    parse_meta,
    parse_review,
)
from timgen_data.store import Store, fetch_rows

IMG = "https://m.media-amazon.example/images/I/"

REVIEWS_2023 = [
    {"rating": 5.0, "title": "Great", "text": "Works.", "images": [], "asin": "A1", "parent_asin": "P1",
     "user_id": "U1", "timestamp": 1600000000000, "helpful_vote": 2, "verified_purchase": True},
    {"rating": 3.0, "title": "Ok", "text": "Fine.", "images": [], "asin": "A1b", "parent_asin": "P1",
     "user_id": "U2", "timestamp": 1600000100999, "helpful_vote": 0, "verified_purchase": False},
    '{"rating": 4.0, "title": "Cut in ha',  # a line cut in half
    # U1 reviewed P1 earlier: this one is kept and replaces the first (already stored) one.
    {"rating": 2.0, "title": "Meh", "text": "Old.", "images": [], "asin": "A1", "parent_asin": "P1",
     "user_id": "U1", "timestamp": 1500000000000, "helpful_vote": 0, "verified_purchase": False},
    {"rating": 4.0, "title": "Nice", "text": "Good.", "images": [], "asin": "A2", "parent_asin": "P2",
     "user_id": "U3", "timestamp": 1610000000000, "helpful_vote": 1, "verified_purchase": True},
    # U2 again on P1, later: a duplicate, skipped.
    {"rating": 1.0, "title": "Again", "text": "Later.", "images": [], "asin": "A1", "parent_asin": "P1",
     "user_id": "U2", "timestamp": 1700000000000, "helpful_vote": 0, "verified_purchase": True},
]
META_2023 = [
    {"main_category": "All Beauty", "title": "Rose Cream", "categories": ["Beauty", "Skin Care"],
     "description": ["A cream.", "Smells of roses."], "features": ["50 ml"], "price": 9.99,
     "images": [{"hi_res": IMG + "1h.jpg", "large": IMG + "1l.jpg", "thumb": IMG + "1t.jpg", "variant": "MAIN"},
                {"hi_res": None, "large": IMG + "2l.jpg", "thumb": IMG + "2t.jpg", "variant": "PT01"}],
     "videos": [{"title": "How to", "url": "https://www.amazon.example/vdp/abc", "user_id": ""}],
     "store": "Roses", "details": {"Brand": "Roses"}, "parent_asin": "P1"},
    {"main_category": "All Beauty", "title": "Soap", "categories": [], "description": [], "features": [],
     "price": None, "images": [], "videos": [], "parent_asin": "P2"},
]
REVIEWS_2018 = [
    {"overall": 5.0, "verified": True, "reviewTime": "09 1, 2016", "reviewerID": "R1", "asin": "B1",
     "reviewText": "Love it", "summary": "Five Stars", "unixReviewTime": 1472688000, "vote": "3"},
    {"overall": 4.0, "verified": False, "reviewerID": "R2", "asin": "B2", "reviewText": "Good",
     "summary": "Four", "unixReviewTime": 1472774400, "image": ["https://images.example/r.jpg"]},
    {"overall": 1.0, "verified": True, "reviewerID": "R1", "asin": "B1", "reviewText": "Again",
     "summary": "dup", "unixReviewTime": 1480000000},
    {"overall": 3.0, "reviewerID": "R3", "asin": "B1", "unixReviewTime": "soon"},  # not a time: rejected
]
META_2018 = [
    {"category": ["Beauty", "Hair"], "description": ["Shampoo."], "title": "Shampoo", "asin": "B1",
     "imageURLHighRes": [IMG + "b1.jpg"], "price": "$5.00", "brand": "Suds"},
    # 2014-style line: a Python literal, read with ast.literal_eval.
    "{'asin': 'B2', 'title': \"Comb's best\", 'categories': [['Beauty']], 'category': ['Beauty', 'Tools'], "
    "'imageURLHighRes': ['" + IMG + "b2.jpg'], 'price': 3.5}",
    "__import__('os').system('echo never')",  # code, not a literal: rejected, never run
]


def gz_lines(rows: list) -> bytes:
    text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)
    return gzip.compress(text.encode())


def serve_2023(server: LoopbackServer) -> None:
    server.add_file("/raw/review_categories/All_Beauty.jsonl.gz", gz_lines(REVIEWS_2023))
    server.add_file("/raw/meta_categories/meta_All_Beauty.jsonl.gz", gz_lines(META_2023))


def snapshot(store: Store) -> dict[str, list]:
    with store.begin() as conn:
        return {
            "users": fetch_rows(conn, "SELECT source, external_id FROM users ORDER BY 1, 2"),
            "items": fetch_rows(conn, "SELECT source, external_id, title, text, category, categories, attributes "
                                      "FROM items ORDER BY 1, 2"),
            "interactions": fetch_rows(conn, "SELECT u.external_id, i.external_id, x.ts, x.action, x.value FROM "
                                             "interactions x JOIN users u ON u.id = x.user_id JOIN items i ON "
                                             "i.id = x.item_id ORDER BY 1, 2, 3, 4"),
            "assets": fetch_rows(conn, "SELECT i.external_id, a.modality, a.uri, a.status FROM assets a JOIN items i "
                                       "ON i.id = a.item_id ORDER BY 1, 2, 3"),
        }


EXPECTED_2023_INTERACTIONS = [
    ("U1", "P1", 1500000000, "comment", 2.0),
    ("U2", "P1", 1600000100, "comment", 3.0),
    ("U3", "P2", 1610000000, "comment", 4.0),
    ("U3", "P2", 1610000000, "purchase", None),
]


def run_2023(store: Store, server: LoopbackServer, data_dir: Path, **kw):
    return collect_amazon(store, "2023", "All_Beauty", data_dir=data_dir, meta=True, base_url=server.url,
                          chunk_lines=2, **kw)


# --- parse: pure functions on saved objects ---------------------------------------------------

def test_parse_review_2023_reads_milliseconds_and_parent_asin():
    review = parse_review(REVIEWS_2023[1], get_release("2023"))
    assert (review.user, review.item, review.ts, review.rating, review.verified) == ("U2", "P1", 1600000100, 3.0, False)


def test_parse_meta_2023_classes_text_attributes_and_media():
    meta = parse_meta(META_2023[0], get_release("2023"))
    assert meta.item.external_id == "P1" and meta.item.title == "Rose Cream"
    assert meta.item.categories == ["All Beauty", "Beauty", "Skin Care"] and meta.item.category == "All Beauty"
    assert meta.item.text == "A cream.\nSmells of roses."
    assert meta.item.attributes == {"price": 9.99, "features": ["50 ml"], "store": "Roses", "details": {"Brand": "Roses"}}
    assert meta.media == [("image", IMG + "1h.jpg"), ("image", IMG + "2l.jpg"),
                          ("video", "https://www.amazon.example/vdp/abc")]


def test_decode_line_reads_python_literals_only_when_allowed_and_never_runs_code():
    assert decode_line(META_2018[1], python_literals=True)["title"] == "Comb's best"
    with pytest.raises(ValueError):
        decode_line(META_2018[1])
    with pytest.raises(ValueError, match="neither JSON nor a Python literal"):
        decode_line(META_2018[2], python_literals=True)


# --- collect: end to end over loopback ----------------------------------------------------------

def test_collect_2023_stores_reviews_meta_and_assets(store, tmp_path):
    with LoopbackServer() as server:
        serve_2023(server)
        report = run_2023(store, server, tmp_path / "data")
    snap = snapshot(store)
    assert snap["interactions"] == EXPECTED_2023_INTERACTIONS
    assert snap["users"] == [("amazon-2023", "U1"), ("amazon-2023", "U2"), ("amazon-2023", "U3")]
    p1 = snap["items"][0]
    assert p1[:5] == ("amazon-2023", "P1", "Rose Cream", "A cream.\nSmells of roses.", "All Beauty")
    assert json.loads(p1[6])["price"] == 9.99
    assert snap["assets"] == [("P1", "image", IMG + "1h.jpg", "pending"), ("P1", "image", IMG + "2l.jpg", "pending"),
                              ("P1", "video", "https://www.amazon.example/vdp/abc", "pending")]
    assert report.read == {"meta": 2, "reviews": 6}
    assert report.skipped == {"duplicate_reviews": 2}
    assert report.rejections.count == 1 and str(report.rejections.kept[0]).startswith("All_Beauty.jsonl.gz:3: not JSON")
    assert report.stored == {"users": 3, "items": 2, "interactions": 4, "assets": 3}
    assert report.written == {"items": 2, "users": 3, "interactions": 4, "assets": 3}  # net of the replaced review
    assert (tmp_path / "data/downloads/amazon/2023/All_Beauty.jsonl.gz").exists()
    with store.begin() as conn:  # the review itself: headline and body
        texts = dict(fetch_rows(conn, "SELECT u.external_id, x.text FROM interactions x JOIN users u "
                                      "ON u.id = x.user_id WHERE x.action = 'comment'"))
    assert texts == {"U1": "Meh\nOld.", "U2": "Ok\nFine.", "U3": "Nice\nGood."}


def test_rerun_adds_nothing(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    with LoopbackServer() as server:
        serve_2023(server)
        run_2023(store, server, tmp_path / "data")
        first = snapshot(store)
        again = run_2023(store, server, tmp_path / "data")
    assert snapshot(store) == first
    assert again.written["interactions"] == 0 and again.read == {"meta": 0, "reviews": 0}
    with store.begin() as conn:
        assert fetch_rows(conn, "SELECT COUNT(*) FROM sources")[0][0] == 1


def test_interrupted_run_resumes_to_the_clean_result(store, tmp_path, monkeypatch):
    clean = Store.open(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    real = collector._save_review_chunk
    calls = []

    def dies_on_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    with LoopbackServer() as server:
        serve_2023(server)
        run_2023(clean, server, tmp_path / "clean-data")
        monkeypatch.setattr(collector, "_save_review_chunk", dies_on_second_chunk)
        with pytest.raises(KeyboardInterrupt):
            run_2023(store, server, tmp_path / "data")
        assert len(snapshot(store)["interactions"]) == 3  # chunk 1 only (U1 at 1.6e9 with its purchase, U2)
        monkeypatch.setattr(collector, "_save_review_chunk", real)
        resumed = run_2023(store, server, tmp_path / "data")
    assert resumed.resumed_from == 2
    assert snapshot(store) == snapshot(clean)


def test_collect_2018_with_python_literal_meta_from_file(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "All_Beauty.json.gz").write_bytes(gz_lines(REVIEWS_2018))
    (folder / "meta_All_Beauty.json.gz").write_bytes(gz_lines(META_2018))
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    report = collect_amazon(store, "2018", "All_Beauty", data_dir=tmp_path / "data", meta=True, from_file=folder)
    snap = snapshot(store)
    assert snap["interactions"] == [("R1", "B1", 1472688000, "comment", 5.0), ("R1", "B1", 1472688000, "purchase", None),
                                    ("R2", "B2", 1472774400, "comment", 4.0)]
    assert [(i[1], i[2], i[4]) for i in snap["items"]] == [("B1", "Shampoo", "Beauty"), ("B2", "Comb's best", "Beauty")]
    # The metadata's images, and R2's photo of B2 (a review's ``image``).
    assert snap["assets"] == [("B1", "image", IMG + "b1.jpg", "pending"),
                              ("B2", "image", "https://images.example/r.jpg", "pending"),
                              ("B2", "image", IMG + "b2.jpg", "pending")]
    assert report.skipped == {"duplicate_reviews": 1}
    assert [str(r).split(":")[:2] for r in report.rejections.kept] == [["meta_All_Beauty.json.gz", "3"],
                                                                        ["All_Beauty.json.gz", "4"]]


def test_cli_collects_over_base_url_and_prints_json(tmp_path):
    with LoopbackServer() as server:
        serve_2023(server)
        result = CliRunner().invoke(
            cli, ["--data-dir", str(tmp_path / "data"), "collect", "amazon", "--release", "2023",
                  "--category", "All_Beauty", "--meta", "--base-url", server.url, "--json"],
            env={"TIMGEN_DB": None})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["namespace"] == "amazon-2023" and report["stored"]["interactions"] == 4
    assert report["rejected"] == 1 and report["skipped"] == {"duplicate_reviews": 2}


def test_cli_load_replays_the_downloaded_files_into_the_same_rows(tmp_path):
    with LoopbackServer() as server:
        serve_2023(server)
        live = CliRunner().invoke(
            cli, ["--data-dir", str(tmp_path / "live"), "collect", "amazon", "--category", "All_Beauty", "--meta",
                  "--base-url", server.url], env={"TIMGEN_DB": None})
    assert live.exit_code == 0, live.output
    downloads = tmp_path / "live" / "downloads" / "amazon" / "2023"
    replay = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path / "replay"), "collect", "amazon", "--category", "All_Beauty", "--meta",
              "--load", str(downloads)], env={"TIMGEN_DB": None})
    assert replay.exit_code == 0, replay.output
    stores = [Store.open(f"sqlite:///{tmp_path / run / 'store.sqlite'}") for run in ("live", "replay")]
    assert snapshot(stores[0]) == snapshot(stores[1])
    assert len(snapshot(stores[1])["interactions"]) == len(EXPECTED_2023_INTERACTIONS)


def test_cli_refuses_an_unsafe_category(tmp_path):
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "collect", "amazon", "--category", "../x"],
                                env={"TIMGEN_DB": None})
    assert result.exit_code == 2 and "category" in result.output


def test_progress_counts_compressed_bytes_and_a_truncated_file_keeps_its_readable_lines(tmp_path):
    whole = gz_lines(REVIEWS_2018[:3])
    (tmp_path / "All_Beauty.json.gz").write_bytes(whole)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    progress = RecordingProgress()
    collect_amazon(store, "2018", "All_Beauty", data_dir=tmp_path / "data", from_file=tmp_path / "All_Beauty.json.gz",
                   progress=progress)
    task = "read All_Beauty.json.gz"
    assert ("start", task, len(whole), "B") in progress.events
    assert sum(e[2] for e in progress.events if e[:2] == ("advance", task)) == len(whole)

    cut = tmp_path / "cut" / "All_Beauty.json.gz"
    cut.parent.mkdir()
    cut.write_bytes(whole[: len(whole) - 12])  # the gzip trailer and a little data are missing
    report = collect_amazon(Store.open(f"sqlite:///{tmp_path / 'cut.sqlite'}"), "2018", "All_Beauty",
                            data_dir=tmp_path / "data", from_file=cut)
    assert report.rejections.count == 1 and "ends early" in report.rejections.kept[0].reason
    assert report.stored["interactions"] >= 1
