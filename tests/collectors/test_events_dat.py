"""``collect events`` on MovieLens-style ``.dat`` logs: ``::`` between fields, no header, an item
file beside the log, compressed files, ids in a source's own form, the rating scale recorded.

The real MovieTweetings lines in ``../shared/real/movietweetings/`` are read here with
plain string splitting, independently of the collector, and compared with what it stored.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pyarrow as pa
import pytest
from support.real_files import real_path

from timgen_data.alignment.links import link_items
from timgen_data.collectors.events import EventValueError, MappingError, collect_events, load_mapping
from timgen_data.collectors.events.mapping import EventMapping
from timgen_data.collectors.events.spark_engine import collect_events_spark
from timgen_data.errors import ConfigError, MalformedInputError, UsageError
from timgen_data.labeling import label_store
from timgen_data.store import fetch_rows, rating_scales


# What the user's mapping lacks for MovieTweetings as published: the columns' names (no header),
# then the scale, the ids' IMDb form and the item file.
NAMES = 'names = ["user_id", "movie_id", "rating", "rating_timestamp"]\n'
TOP = NAMES + "rating_scale = [0, 10]\n"
TABLES = """
[item_ids]
format = "tt%07d"
link = "imdb"

[items]
path = "movies.dat"
delimiter = "::"
names = ["movie_id", "title", "genres"]
id = "movie_id"
title = "title"
genres = "genres"
"""


def real_movietweetings() -> Path:
    return real_path("movietweetings", what="real MovieTweetings lines", needs="ratings.dat")


def with_settings(user_mapping: str, top: str, tables: str = "") -> str:
    """The user's mapping with ``top`` settings before its first table and ``tables`` after its last."""
    head, rest = user_mapping.split("\n[", 1)
    return f"{head}\n{top}\n[{rest}{tables}"


def interactions(store, namespace: str) -> set[tuple]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.external_id, i.external_id, x.ts, x.action, x.value FROM interactions x "
                                "JOIN users u ON u.id = x.user_id JOIN items i ON i.id = x.item_id "
                                "WHERE i.source = :ns", {"ns": namespace})
    return {tuple(r) for r in rows}


def items(store, namespace: str) -> dict[str, tuple]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT external_id, title, year, category, categories, attributes FROM items "
                                "WHERE source = :ns", {"ns": namespace})
    return {r[0]: (r[1], r[2], r[3], json.loads(r[4]), json.loads(r[5])) for r in rows}


def counts(store) -> dict[str, int]:
    with store.begin() as conn:
        return {t: fetch_rows(conn, f"SELECT COUNT(*) FROM {t}")[0][0]
                for t in ("users", "items", "interactions", "item_links", "sources")}


def test_real_movietweetings_as_published(store, tmp_path):
    real = real_movietweetings()
    user_mapping = (real / "mapping_dcolon.toml").read_text(encoding="utf-8")
    # The mapping lies beside the files, as the user's does ([items] path is relative to it).
    folder = tmp_path / "mt"
    folder.mkdir()
    (folder / "movies.dat").symlink_to(real / "movies.dat")
    mapping_path = folder / "mapping.toml"
    mapping_path.write_text(with_settings(user_mapping, TOP, TABLES), encoding="utf-8")
    mapping = load_mapping(mapping_path)

    report = collect_events(store, [str(real / "ratings.dat")], mapping, data_dir=tmp_path)

    # The log, read here by splitting its lines: user::movie::rating::epoch seconds (UTC).
    lines = [line.split("::") for line in (real / "ratings.dat").read_text(encoding="utf-8").splitlines() if line]
    expected = {(u, "tt" + m.zfill(7), int(ts), "rate", float(r)) for u, m, r, ts in lines}
    assert len(expected) == len(lines) == 122
    assert interactions(store, "events-movietweetings") == expected
    rated = {"tt" + m for _, m, _, _ in lines}
    catalog = {}
    for line in (real / "movies.dat").read_text(encoding="utf-8").splitlines():
        movie, raw_title, genres = line.split("::")
        found = re.fullmatch(r"(.*) \((\d{4})\)", raw_title)
        catalog["tt" + movie] = (found[1], int(found[2]), [g for g in genres.split("|") if g], raw_title)
    users = {u for u, _, _, _ in lines}
    assert report.stored == {"users": len(users), "items": len(rated | set(catalog)), "interactions": len(lines)}
    assert report.rejections.count == 0

    stored_items = items(store, "events-movietweetings")
    assert set(stored_items) == rated | set(catalog)
    rated_in_catalog = rated & set(catalog)
    assert len(rated_in_catalog) == 7
    for item, (title, year, genres, raw_title) in catalog.items():
        assert stored_items[item] == (title, year, genres[0] if genres else None, genres,
                                      {"original_title": raw_title}), item
    no_genre = [item for item, entry in catalog.items() if not entry[2]]
    assert len(no_genre) == 1 and stored_items[no_genre[0]][2:4] == (None, [])
    assert any(not t.isascii() for t, *_ in stored_items.values() if t)  # accents kept as written
    assert "Fantômas - À l'ombre de la guillotine" in {t for t, *_ in stored_items.values()}
    for item in rated - set(catalog):
        assert stored_items[item] == (None, None, None, [], {})  # rated, but the catalog slice lacks it

    with store.begin() as conn:
        links = fetch_rows(conn, "SELECT i.external_id, l.target_source, l.target_external_id FROM item_links l "
                                 "JOIN items i ON i.id = l.item_id WHERE i.source = 'events-movietweetings'")
        assert rating_scales(conn) == {"events-movietweetings": (0.0, 10.0)}
    assert sorted(links) == sorted((item, "imdb", item) for item in rated | set(catalog))
    # align links takes them as direct IMDb links: nothing left to match by title.
    linked = link_items(store, sources=["events-movietweetings"])
    assert linked.direct == len(rated | set(catalog)) and linked.unmatched == []

    before = counts(store)
    again = collect_events(store, [str(real / "ratings.dat")], mapping, data_dir=tmp_path)
    assert again.read["rows"] == 0 and again.skipped["files_already_stored"] == 1 and "item_rows" not in again.read
    assert counts(store) == before


def test_the_users_mapping_as_written_says_to_add_names(sqlite_store, tmp_path):
    real = real_movietweetings()
    before = counts(sqlite_store)
    with pytest.raises(MappingError) as caught:
        collect_events(sqlite_store, [str(real / "ratings.dat")], load_mapping(real / "mapping_dcolon.toml"),
                       data_dir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "no header" in message and "names = [...]" in message
    assert "4 columns in the file's order" in message and message.endswith("Nothing was stored.")
    assert counts(sqlite_store) == before
    # With the one line the message asks for, the same mapping stores the log.
    fixed = tmp_path / "mapping.toml"
    fixed.write_text(with_settings((real / "mapping_dcolon.toml").read_text(encoding="utf-8"), NAMES),
                     encoding="utf-8")
    report = collect_events(sqlite_store, [str(real / "ratings.dat")], load_mapping(fixed), data_dir=tmp_path)
    lines = [line for line in (real / "ratings.dat").read_text(encoding="utf-8").splitlines() if line]
    assert report.stored["interactions"] == len(lines)
    assert report.stored["items"] == len({line.split("::")[1] for line in lines})  # ids as written, "0120735"


# A MovieLens-1M-style pair: "::", no header, latin-1 titles with the article moved to the end.
ML1M_RATINGS = [("1", "1193", "5", "978300760"), ("1", "661", "3", "978302109"), ("2", "1193", "4", "978298413"),
                ("2", "3408", "4", "978300275"), ("3", "661", "1", "978297867")]
ML1M_MOVIES = [("661", "James and the Giant Peach (1996)", "Animation|Children's|Musical"),
               ("1193", "One Flew Over the Cuckoo's Nest (1975)", "Drama"),
               ("3408", "Misérables, Les (1998)", "Drama")]
ML1M_MAPPING = """\
name = "ml1m"
delimiter = "::"
names = ["UserID", "MovieID", "Rating", "Timestamp"]
rating_scale = [1, 5]
[columns]
user = "UserID"
item = "MovieID"
time = "Timestamp"
value = "Rating"
[action]
fixed = "rate"
[items]
path = "movies.dat"
delimiter = "::"
names = ["MovieID", "Title", "Genres"]
encoding = "latin-1"
id = "MovieID"
title = "Title"
genres = "Genres"
"""


def ml1m(folder: Path, ratings_lines: list[str] | None = None) -> tuple[Path, Path]:
    folder.mkdir(exist_ok=True)
    lines = ratings_lines if ratings_lines is not None else ["::".join(r) for r in ML1M_RATINGS]
    ratings = folder / "ratings.dat"
    ratings.write_text("\n".join(lines) + "\n", encoding="ascii")
    (folder / "movies.dat").write_bytes("".join("::".join(m) + "\n" for m in ML1M_MOVIES).encode("latin-1"))
    mapping = folder / "mapping.toml"
    mapping.write_text(ML1M_MAPPING, encoding="utf-8")
    return ratings, mapping


def ml1m_expected() -> set[tuple]:
    return {(u, m, int(ts), "rate", float(r)) for u, m, r, ts in ML1M_RATINGS}


def test_headerless_double_colon_log_with_latin1_item_file(sqlite_store, tmp_path):
    ratings, mapping_path = ml1m(tmp_path / "ml1m")
    report = collect_events(sqlite_store, [str(ratings)], load_mapping(mapping_path), data_dir=tmp_path,
                            batch_rows=2)
    assert interactions(sqlite_store, "events-ml1m") == ml1m_expected()
    assert report.read == {"files": 1, "rows": len(ML1M_RATINGS), "item_rows": len(ML1M_MOVIES)}
    stored_items = items(sqlite_store, "events-ml1m")
    # The year split off as the MovieLens collector splits it; the title otherwise as written.
    assert stored_items["3408"] == ("Misérables, Les", 1998, "Drama", ["Drama"],
                                    {"original_title": "Misérables, Les (1998)"})
    assert stored_items["661"][3] == ["Animation", "Children's", "Musical"]
    with sqlite_store.begin() as conn:
        assert rating_scales(conn) == {"events-ml1m": (1.0, 5.0)}
        assert fetch_rows(conn, "SELECT COUNT(*) FROM item_links")[0][0] == 0  # no [item_ids] link asked
    # The scale the mapping declares is the one label reports (the events source declares none).
    assert label_store(sqlite_store, "movie").rating_scales == {"events-ml1m": [1.0, 5.0]}


def test_bad_lines_of_a_double_colon_log_are_named_by_line(sqlite_store, tmp_path):
    lines = ["1::1193::5::978300760", "", "1::661::3", "2::1193::4::978298413", "2::3408::9::978300275",
             "3::661::1::978297867"]
    ratings, mapping_path = ml1m(tmp_path / "ml1m", lines)
    mapping = load_mapping(mapping_path)
    with pytest.raises(EventValueError, match=r"ratings.dat line 3 has 3 fields where names lists 4"):
        collect_events(sqlite_store, [str(ratings)], mapping, data_dir=tmp_path)
    assert counts(sqlite_store)["items"] == 0  # the item file neither: nothing was stored
    text = mapping_path.read_text().replace('name = "ml1m"', 'name = "ml1m"\non_error = "skip"')
    mapping_path.write_text(text)
    report = collect_events(sqlite_store, [str(ratings)], load_mapping(mapping_path), data_dir=tmp_path,
                            batch_rows=2)
    rejected = {(r.line, r.reason) for r in report.rejections.kept}
    assert rejected == {(3, "has 3 fields where names lists 4"),
                        (5, "column 'Rating' (value) holds '9', outside rating_scale [1, 5]")}
    fields = [line.split("::") for line in lines]
    assert interactions(sqlite_store, "events-ml1m") == {
        (u, m, int(ts), "rate", float(r)) for u, m, r, ts in (f for f in fields if len(f) == 4) if r != "9"}


def compressed(path: Path, suffix: str) -> Path:
    data = path.read_bytes()
    out = path.with_name(path.name + suffix)
    if suffix == ".gz":
        out.write_bytes(gzip.compress(data))
    else:
        with pa.CompressedOutputStream(str(out), "zstd") as stream:
            stream.write(data)
    return out


@pytest.mark.parametrize("suffix", [".gz", ".zst"])
def test_compressed_logs_and_item_files_store_what_plain_ones_do(sqlite_store, tmp_path, suffix):
    ratings, mapping_path = ml1m(tmp_path / "ml1m")
    movies = compressed(tmp_path / "ml1m" / "movies.dat", suffix)
    mapping_path.write_text(mapping_path.read_text().replace('path = "movies.dat"', f'path = "{movies.name}"'))
    packed = compressed(ratings, suffix)
    assert packed.read_bytes()[:4] != ratings.read_bytes()[:4]
    collect_events(sqlite_store, [str(packed)], load_mapping(mapping_path), data_dir=tmp_path)
    assert interactions(sqlite_store, "events-ml1m") == ml1m_expected()
    assert items(sqlite_store, "events-ml1m")["3408"][0] == "Misérables, Les"


def test_zstd_one_character_csv_and_a_truncated_stream(sqlite_store, tmp_path):
    log = tmp_path / "shop.csv"
    log.write_text("u\ti\tt\nu1\tp1\t1767225600\nu2\tp1\t1767225601\n")
    mapping = EventMapping(name="z", delimiter="\t", columns={"user": "u", "item": "i", "time": "t"},
                           action={"fixed": "view"})
    collect_events(sqlite_store, [str(compressed(log, ".zst"))], mapping, data_dir=tmp_path)
    assert {r[:3] for r in interactions(sqlite_store, "events-z")} == {("u1", "p1", 1767225600),
                                                                      ("u2", "p1", 1767225601)}
    big = tmp_path / "big.csv"
    big.write_text("u\ti\tt\n" + "".join(f"u{n}\tp{n % 7}\t{1767225600 + n}\n" for n in range(20_000)))
    broken = compressed(big, ".zst")
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    with pytest.raises(MalformedInputError, match="cannot be read to its end"):
        collect_events(sqlite_store, [str(broken)], mapping.model_copy(update={"name": "broken"}), data_dir=tmp_path)


def test_headerless_one_character_files_read_from_line_one(sqlite_store, tmp_path):
    # u.data's shape (tabs, no header), through Arrow's parser and through the csv module (a quoted line break).
    plain = tmp_path / "u.data"
    plain.write_text("196\t242\t3\t881250949\n186\t302\t3\t891717742\n")
    quoted = tmp_path / "quoted.tsv"
    quoted.write_text('7\t9\t4\t881250949\t"two\nlines"\nbad line\n8\t9\t5\t881250950\tone\n')
    base = {"format": "csv", "delimiter": "\t", "columns": {"user": "u", "item": "i", "time": "t", "value": "r"},
            "action": {"fixed": "rate"}, "on_error": "skip"}
    report = collect_events(sqlite_store, [str(plain)], EventMapping(name="plain", names=["u", "i", "r", "t"], **base),
                            data_dir=tmp_path)
    assert report.rejections.count == 0
    assert interactions(sqlite_store, "events-plain") == {("196", "242", 881250949, "rate", 3.0),
                                                          ("186", "302", 891717742, "rate", 3.0)}
    report = collect_events(sqlite_store, [str(quoted)],
                            EventMapping(name="quoted", names=["u", "i", "r", "t", "note"], **base), data_dir=tmp_path)
    assert [(r.line, r.reason) for r in report.rejections.kept] == [(3, "has 1 fields where names lists 5")]
    assert interactions(sqlite_store, "events-quoted") == {("7", "9", 881250949, "rate", 4.0),
                                                           ("8", "9", 881250950, "rate", 5.0)}
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("José\t9\t4\t881250949\n".encode("latin-1"))
    collect_events(sqlite_store, [str(latin)], EventMapping(name="latin", names=["u", "i", "r", "t"],
                                                            encoding="latin-1", **base), data_dir=tmp_path)
    assert interactions(sqlite_store, "events-latin") == {("José", "9", 881250949, "rate", 4.0)}


def test_item_ids_that_the_format_cannot_write_are_named(sqlite_store, tmp_path):
    log = tmp_path / "log.dat"
    log.write_text("1::0120735::9::1363245118\n2::x12::8::1363245119\n")
    mapping = EventMapping(name="mt", delimiter="::", names=["u", "m", "r", "t"],
                           columns={"user": "u", "item": "m", "time": "t", "value": "r"}, action={"fixed": "rate"},
                           item_ids={"format": "tt%07d"})
    with pytest.raises(EventValueError, match=r"log.dat line 2: column 'm' \(item\) holds 'x12', which "
                                              r"item_ids.format 'tt%07d' cannot write"):
        collect_events(sqlite_store, [str(log)], mapping, data_dir=tmp_path)
    assert counts(sqlite_store)["interactions"] == 0
    prefixed = mapping.model_copy(update={"item_ids": mapping.item_ids.model_copy(update={"format": "sku-%s"})})
    collect_events(sqlite_store, [str(log)], prefixed, data_dir=tmp_path)
    assert {r[1] for r in interactions(sqlite_store, "events-mt")} == {"sku-0120735", "sku-x12"}


@pytest.mark.parametrize(("settings", "expected"), [
    ({"format": "jsonl", "names": ["a"]}, "names lists the columns of a delimited text file"),
    ({"rating_scale": [0, 10]}, "rating_scale needs columns.value"),
    ({"rating_scale": [5, 1], "columns": {"user": "u", "item": "i", "time": "t", "value": "v"}},
     "lowest < highest"),
    ({"names": ["u", "u"]}, "'u' appear twice"),
    ({"encoding": "klingon"}, "not a text encoding"),
    ({"item_ids": {"format": "tt%07x"}}, "must hold one %d"),
    ({"item_ids": {"link": "netflix"}}, "imdb"),
])
def test_new_settings_are_validated(settings, expected):
    data = {"columns": {"user": "u", "item": "i", "time": "t"}, "action": {"fixed": "rate"}} | settings
    with pytest.raises(Exception, match=re.escape(expected)):
        EventMapping.model_validate(data)


def test_a_mapping_without_the_new_settings_keeps_its_fingerprint():
    mapping = EventMapping(columns={"user": "u", "item": "i", "time": "t"}, action={"fixed": "rate"})
    later = ("names", "encoding", "rating_scale", "item_ids", "items")
    before = {k: v for k, v in mapping.model_dump().items() if k not in later}
    assert mapping.fingerprint() == hashlib.sha256(json.dumps(before, sort_keys=True).encode()).hexdigest()[:16]
    assert mapping.model_copy(update={"names": ["u", "i", "t"]}).fingerprint() != mapping.fingerprint()


def test_missing_item_file_and_item_columns_are_errors(sqlite_store, tmp_path):
    ratings, mapping_path = ml1m(tmp_path / "ml1m")
    text = mapping_path.read_text()
    mapping_path.write_text(text.replace('path = "movies.dat"', 'path = "films.dat"'))
    with pytest.raises(UsageError, match="films.dat is no file"):
        collect_events(sqlite_store, [str(ratings)], load_mapping(mapping_path), data_dir=tmp_path)
    mapping_path.write_text(text.replace('genres = "Genres"', 'genres = "Genre"'))
    with pytest.raises(ConfigError, match=r"items.genres = 'Genre' names no column"):
        collect_events(sqlite_store, [str(ratings)], load_mapping(mapping_path), data_dir=tmp_path)
    assert counts(sqlite_store)["interactions"] == 0


def test_spark_engine_says_it_does_not_read_item_files_yet(sqlite_store, tmp_path):
    _, mapping_path = ml1m(tmp_path / "ml1m")
    mapping = load_mapping(mapping_path).model_copy(update={"format": "parquet", "names": None})
    with pytest.raises(UsageError, match=r"does not read the mapping's \[items\]"):
        collect_events_spark(None, sqlite_store, ["logs/"], mapping, workdir=tmp_path)
