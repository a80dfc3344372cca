"""MovieLens tags: the real latest-small ``tags.csv`` and a made ML-10M-layout ``tags.dat``
become ``tag`` interactions with the tag text, and the tags a movie was given its text;
chunking, interruption and re-runs store the rows of one clean run; labels ignore tags."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from timgen_data.collectors.movielens import collect_movielens
from timgen_data.collectors.movielens import collector as movielens_collector
from timgen_data.collectors.movielens.tag_store import MAX_ITEM_TAGS, item_tags_text
from timgen_data.dataset import BuildOptions, build_dataset
from timgen_data.errors import MalformedInputError
from timgen_data.labeling import label_store
from timgen_data.store import Store, fetch_rows


def stored_tags(store: Store, namespace: str) -> dict[tuple[str, str, int], str]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.external_id, i.external_id, x.ts, x.text FROM interactions x "
                                "JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id "
                                "WHERE x.action = 'tag' AND u.source = :ns", {"ns": namespace})
    return {(u, i, ts): text for u, i, ts, text in rows}


def item_texts(store: Store, namespace: str) -> dict[str, str | None]:
    with store.begin() as conn:
        return dict(fetch_rows(conn, "SELECT external_id, text FROM items WHERE source = :ns", {"ns": namespace}))


def expected_item_text(tags: list[str]) -> str:
    """The rule, written out again: the most given first, then by name, at most ``MAX_ITEM_TAGS``."""
    ranked = sorted(Counter(tags).items(), key=lambda pair: (-pair[1], pair[0]))
    return "Tags: " + ", ".join(name for name, _ in ranked[:MAX_ITEM_TAGS])


def test_real_latest_small_tags_are_stored_and_describe_their_movies(store, tmp_path, shared_data):
    tags_csv = shared_data / "ml-latest-small" / "tags.csv"
    raw_lines = tags_csv.read_text(encoding="utf-8").splitlines()
    with tags_csv.open(encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == len(raw_lines) - 1  # one tag a line, after the header

    report = collect_movielens(store, "latest-small", data_dir=tmp_path, from_file=shared_data / "ml-latest-small")

    moments: dict[tuple[str, str, int], list[str]] = {}
    for line in lines:
        moments.setdefault((line["userId"], line["movieId"], int(line["timestamp"])), []).append(line["tag"])
    stored = stored_tags(store, "movielens-latest-small")
    assert report.read["tags"] == len(lines) and report.rejections.count == 0
    # Tags a user gave a movie in the same second are one interaction, listing them one a line.
    assert sum(len(text.split("\n")) for text in stored.values()) == len(raw_lines) - 1
    assert stored == {key: "\n".join(dict.fromkeys(given)) for key, given in moments.items()}
    assert any("\n" in text for text in stored.values())  # the real file has such moments

    by_movie: dict[str, list[str]] = {}
    for line in lines:
        by_movie.setdefault(line["movieId"], []).append(line["tag"])
    texts = item_texts(store, "movielens-latest-small")
    assert {m for m, text in texts.items() if text is not None} == set(by_movie)
    for movie, tags in by_movie.items():
        assert texts[movie] == expected_item_text(tags), movie
        assert Counter(tags).most_common(1)[0][0] in texts[movie]


def test_ml_100k_has_no_tags_and_keeps_its_items_without_text(sqlite_store, tmp_path, shared_data):
    report = collect_movielens(sqlite_store, "100k", data_dir=tmp_path, from_file=shared_data / "ml-100k")
    assert "tags" not in report.read
    assert stored_tags(sqlite_store, "movielens-100k") == {}
    assert set(item_texts(sqlite_store, "movielens-100k").values()) == {None}


# --- a made ML-10M-layout release with tags.dat --------------------------------------------------

RATINGS = ["1::1::4.5::1230000000", "1::2::3.0::1230000100", "2::1::5.0::1230000200", "3::3::2.0::1230000300"]
TAGS = [
    "1::1::mind-bending::1230000010",
    "1::1::Keanu::1230000010",  # the same second: one interaction with both
    "2::1::mind-bending::1230000300",
    "2::1::cyberpunk::1230000300",
    "1::2::Audrey Tautou::1230000400",
    "9::1::philosophy::1230000500",  # a user who rated nothing: stored all the same
    "2::7::rare::1230000600",  # a movie movies.dat lacks
    "3::3::a::b::1230000700",  # "::" inside the tag
    "2::1::mind-bending::1230000300",  # the same tag again: nothing new
    "4::1::no time",  # rejected: three fields
    "4::1::later::soon",  # rejected: no timestamp
    "3::1::Am\xe9lie-ish::1230000800",  # latin-1 bytes
    "3::2::cyberpunk::1230000900",
]


def write_release(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "movies.dat").write_text("1::Matrix, The (1999)::Action|Sci-Fi\n2::Amélie (2001)::Comedy|Romance\n"
                                       "3::Heat (1995)::Action|Crime\n", encoding="utf-8")
    (folder / "ratings.dat").write_text("".join(f"{r}\n" for r in RATINGS), encoding="utf-8")
    (folder / "tags.dat").write_bytes(b"".join(
        line.encode("latin-1" if "\xe9" in line else "utf-8") + b"\n" for line in TAGS))
    return folder


def digest(store: Store) -> str:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.external_id, i.external_id, x.ts, x.action, x.value, x.text FROM "
                                "interactions x JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id "
                                "ORDER BY 1, 2, 3, 4")
        items = fetch_rows(conn, "SELECT id, external_id, text FROM items ORDER BY id")
        users = fetch_rows(conn, "SELECT id, external_id FROM users ORDER BY id")
    return hashlib.sha256(repr((rows, items, users)).encode()).hexdigest()


def collect_10m(tmp_path: Path, name: str, release: Path, **options):
    store = Store.open(f"sqlite:///{tmp_path / name / 'store.sqlite'}")
    report = collect_movielens(store, "10m", data_dir=tmp_path / name, from_file=release, **options)
    return store, report


def test_tags_dat_is_read_with_its_odd_lines(tmp_path):
    release = write_release(tmp_path / "release")
    store, report = collect_10m(tmp_path, "one", release)
    try:
        tags = stored_tags(store, "movielens-10m")
        texts = item_texts(store, "movielens-10m")
    finally:
        store.dispose()
    assert tags == {
        ("1", "1", 1230000010): "mind-bending\nKeanu",
        ("2", "1", 1230000300): "mind-bending\ncyberpunk",
        ("1", "2", 1230000400): "Audrey Tautou",
        ("9", "1", 1230000500): "philosophy",
        ("2", "7", 1230000600): "rare",
        ("3", "3", 1230000700): "a::b",
        ("3", "1", 1230000800): "Amélie-ish",
        ("3", "2", 1230000900): "cyberpunk",
    }
    assert sorted((r.line, r.reason.split(" ")[0]) for r in report.rejections.kept) == [(10, "expected"),
                                                                                         (11, "timestamp")]
    assert report.read["tags"] == len(TAGS) - 2
    assert texts["1"] == "Tags: mind-bending, Amélie-ish, Keanu, cyberpunk, philosophy"
    assert texts["7"] == "Tags: rare" and texts["2"] == "Tags: Audrey Tautou, cyberpunk"


def test_tags_chunked_interrupted_and_rerun_store_the_rows_of_one_run(tmp_path, monkeypatch):
    release = write_release(tmp_path / "release")
    clean, _ = collect_10m(tmp_path, "clean", release)
    expected = digest(clean)
    clean.dispose()

    # Chunks of one tag: the two tags of a moment arrive in different chunks and are merged.
    small, _ = collect_10m(tmp_path, "small", release, chunk_rows=1)
    assert digest(small) == expected
    again, report = collect_10m(tmp_path, "small", release, chunk_rows=3, force=True)
    assert digest(again) == expected and report.written["interactions"] == 0
    small.dispose(), again.dispose()

    saved, calls = movielens_collector.save_tag_chunk, []

    def killed_after_two(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt  # a kill between chunks: the third never commits
        calls.append(1)
        return saved(*args)

    monkeypatch.setattr(movielens_collector, "save_tag_chunk", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        collect_10m(tmp_path, "killed", release, chunk_rows=2)
    monkeypatch.setattr(movielens_collector, "save_tag_chunk", saved)
    resumed, _ = collect_10m(tmp_path, "killed", release, chunk_rows=2)
    assert digest(resumed) == expected
    resumed.dispose()


def test_strict_stops_at_the_first_bad_tag_line(tmp_path):
    release = write_release(tmp_path / "release")
    with pytest.raises(MalformedInputError, match="tags.dat:10"):
        collect_10m(tmp_path, "strict", release, strict=True)


def test_labels_leave_tags_unlabelled(tmp_path):
    release = write_release(tmp_path / "release")
    store, _ = collect_10m(tmp_path, "labelled", release)
    try:
        label_store(store, "movie")
        with store.begin() as conn:
            labelled = fetch_rows(conn, "SELECT x.action, COUNT(*) FROM labels l JOIN interactions x "
                                        "ON x.id = l.interaction_id GROUP BY x.action")
    finally:
        store.dispose()
    assert labelled == [("rate", len(RATINGS))]


def test_item_text_lists_the_most_given_tags_first_and_no_more_than_the_bound():
    counts = Counter({f"tag{n:02d}": 1 for n in range(MAX_ITEM_TAGS + 5)} | {"zeal": 4, "awe": 4})
    text = item_tags_text(counts)
    assert text.startswith("Tags: awe, zeal, tag00, tag01")
    assert len(text.removeprefix("Tags: ").split(", ")) == MAX_ITEM_TAGS


def test_a_release_with_tagged_and_untagged_movies_builds_their_texts(tmp_path):
    release = write_release(tmp_path / "release")
    with (release / "movies.dat").open("a", encoding="utf-8") as movies:
        movies.write("4::Untagged (2001)::Drama\n")  # no tag names movie 4: its text stays empty
    ratings = [f"{user}::{movie}::4.0::{1230000000 + 100 * (4 * user + movie)}" for user in (1, 2, 3) for movie in (1, 2, 3, 4)]
    (release / "ratings.dat").write_text("".join(f"{r}\n" for r in ratings), encoding="utf-8")
    store, _ = collect_10m(tmp_path, "built", release)
    try:
        label_store(store, "movie")
        build_dataset(store, tmp_path / "out", BuildOptions(min_interactions=1))
        stored = item_texts(store, "movielens-10m")
    finally:
        store.dispose()
    items = pq.read_table(next((tmp_path / "out" / "items").glob("*.parquet"))).to_pylist()
    texts = {row["item_id"]: row["text"] for row in items}
    assert texts["4"] is None and texts["1"].startswith("Tags: mind-bending")
    assert texts == {movie: stored[movie] for movie in ("1", "2", "3", "4")}
