"""``collect movielens`` says what it stored: ids with bytes that are not text are rejected
with their lines (never merged into one U+FFFD id), a release without ratings is an
error, duplicates are counted and the report matches the store on every run, and a
``--from-file`` archive whose md5 differs from the known one stops before anything."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import zip_folder
from support.cli_process import assert_fails_in_one_line, invoke_cli

from timgen_data.store import Store, fetch_rows

NO_DB = {"TIMGEN_DB": None}
PINNED_1M = "c4d9eecfca2ab87c1945afe126590906"


def small_1m(folder: Path, ratings: bytes) -> Path:
    """A release in the ML-1M layout (``::``-separated, latin-1 catalog) with these ratings."""
    release = folder / "ml-1m"
    release.mkdir(parents=True)
    (release / "movies.dat").write_bytes("1::Matrix, The (1999)::Action|Sci-Fi\n2::Misérables, Les (1995)::Drama\n"
                                         "3::Heat (1995)::Action\n".encode("latin-1"))
    (release / "users.dat").write_bytes(b"1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::12::32793\n")
    (release / "ratings.dat").write_bytes(ratings)
    return release


def small_100k(folder: Path) -> Path:
    release = folder / "ml-100k"
    release.mkdir(parents=True)
    (release / "u.genre").write_bytes(b"unknown|0\nAction|1\n")
    (release / "u.item").write_bytes("1|Toy Story (1995)|01-Jan-1995||http://x|0|1\n"
                                     "2|Misérables, Les (1995)|01-Jan-1995||http://y|1|0\n".encode("latin-1"))
    (release / "u.user").write_bytes(b"1|24|M|technician|85711\n2|53|F|other|94043\n")
    (release / "u.data").write_bytes(b"1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t878542960\n")
    return release


def collect(data_dir: Path, *args) -> tuple:
    result = invoke_cli("collect", "movielens", *args, data_dir=data_dir, env=NO_DB)
    return result, (json.loads(result.stdout) if result.returncode == 0 and "--json" in args else None)


def store_rows(data_dir: Path) -> dict[str, list]:
    store = Store.open(f"sqlite:///{data_dir / 'store.sqlite'}")
    with store.begin() as conn:
        rows = {
            "users": fetch_rows(conn, "SELECT external_id FROM users ORDER BY 1"),
            "items": fetch_rows(conn, "SELECT external_id FROM items ORDER BY 1"),
            "interactions": fetch_rows(conn, "SELECT user_id, item_id, ts, action, value FROM interactions "
                                             "ORDER BY 1, 2, 3"),
            "sources": fetch_rows(conn, "SELECT status, counts FROM sources"),
        }
    store.dispose()
    return rows


def collected_before(tmp_path: Path) -> dict[str, list]:
    """A store already holding another release, which a failed collect must leave as it is."""
    result, _ = collect(tmp_path / "data", "--variant", "100k", "--from-file", small_100k(tmp_path / "other"))
    assert result.returncode == 0, result.stdout + result.stderr
    return store_rows(tmp_path / "data")


def test_ids_with_bytes_that_are_not_text_are_rejected_with_their_lines(tmp_path):
    release = small_1m(tmp_path, b"1::1::5::978300760\n"
                                 b"1\xff::2::4::978300761\n"  # a user id that is not UTF-8
                                 b"2::2::3::978300762\n"
                                 b"2::caf\xe9::4::978300763\n"  # an item id in latin-1
                                 b"1\xfe::2::2::978300764\n")  # other bad bytes: must not become line 2's user

    result, report = collect(tmp_path / "data", "--variant", "1m", "--from-file", release, "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    assert [r.split(":")[:2] for r in report["rejections"]] == [["ratings.dat", "2"], ["ratings.dat", "4"],
                                                                ["ratings.dat", "5"]]
    assert "the user id holds bytes that are not UTF-8 (0xff" in report["rejections"][0]
    assert "the item id holds bytes that are not UTF-8 (0xe9" in report["rejections"][1]
    rows = store_rows(tmp_path / "data")
    ids = [i for (i,) in rows["users"] + rows["items"]]
    assert not any("\ufffd" in i for i in ids)
    assert rows["users"] == [("1",), ("2",), ("3",)] and len(rows["interactions"]) == 2
    assert report["stored"]["interactions"] == 2 and report["rejected"] == 3


@pytest.mark.parametrize("ratings, needle", [
    (b"", "holds no ratings"),
    (b"\n\n", "holds no ratings"),
    (b"1::1::oops::978300760\n2::1::4\n", "none of its lines is a rating (2 rejected; the first: ratings.dat:1:"),
])
def test_a_release_without_ratings_is_an_error_and_stores_nothing(tmp_path, ratings, needle):
    release = small_1m(tmp_path, ratings)
    before = collected_before(tmp_path)

    result, _ = collect(tmp_path / "data", "--variant", "1m", "--from-file", release)

    assert_fails_in_one_line(result, 3, "MalformedInputError", "ratings.dat is unusable", needle, "--force",
                             "Nothing was stored")
    assert store_rows(tmp_path / "data") == before


def test_duplicates_are_counted_and_the_report_matches_the_store_on_every_run(tmp_path):
    distinct = [f"{u}::{i}::{(u + i) % 5 + 1}::97830{u}{i}00" for u in (1, 2, 3) for i in (1, 2, 3)]
    repeats = [distinct[0], distinct[0], distinct[4], distinct[8],
               distinct[8].replace("::3::97830", "::1::97830")]  # the same (user, item, time), another rating
    release = small_1m(tmp_path, "".join(line + "\n" for line in distinct + repeats).encode())

    runs = [collect(tmp_path / "data", "--variant", "1m", "--from-file", release, "--json") for _ in range(2)]

    rows = store_rows(tmp_path / "data")
    assert len(rows["interactions"]) == 9
    for result, report in runs:
        assert result.returncode == 0, result.stdout + result.stderr
        assert report["read"]["interactions"] == 14
        assert report["stored"] == {"users": 3, "items": 3, "links": 0, "interactions": 9}
        assert report["skipped"]["duplicates_dropped"] == 5
    assert [report["written"]["interactions"] for _, report in runs] == [9, 0]
    (status, counts), = rows["sources"]
    assert status == "complete"
    assert {k: json.loads(counts)[k] for k in ("interactions", "duplicates_dropped")} == {"interactions": 9,
                                                                                      "duplicates_dropped": 5}
    shown = invoke_cli("collect", "movielens", "--variant", "1m", "--from-file", release,
                       data_dir=tmp_path / "data", env=NO_DB).stdout
    assert "stored interactions" in shown and "duplicates dropped" in shown


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_a_local_archive_whose_md5_differs_from_md5_stops_before_anything(tmp_path):
    archive = zip_folder(small_100k(tmp_path / "release"), tmp_path / "ml-100k.zip")
    actual, wrong = md5_of(archive), "0123456789abcdef0123456789abcdef"
    release = small_1m(tmp_path / "ml1m", b"1::1::5::978300760\n")
    assert collect(tmp_path / "data", "--variant", "1m", "--from-file", release)[0].returncode == 0
    before = store_rows(tmp_path / "data")

    result, _ = collect(tmp_path / "data", "--variant", "100k", "--from-file", archive, "--md5", wrong)

    assert_fails_in_one_line(result, 3, "ChecksumMismatchError", f"has md5 {actual}", f"--md5 is {wrong}",
                             f"Pass --md5 {actual}", "leave out --from-file", "Nothing was stored")
    assert store_rows(tmp_path / "data") == before
    assert not (tmp_path / "data" / "raw").exists()  # not even extracted
    unchecked = invoke_cli("collect", "movielens", "--variant", "100k", "--from-file", archive,
                           data_dir=tmp_path / "data", env=NO_DB)
    assert unchecked.returncode == 0 and "no published checksum to compare" in unchecked.stdout


def test_a_local_archive_that_is_not_the_pinned_1m_release_stops_and_says_what_to_pass(tmp_path):
    archive = zip_folder(small_1m(tmp_path / "release", b"1::1::5::978300760\n"), tmp_path / "ml-1m.zip")
    actual = md5_of(archive)

    before = collected_before(tmp_path)

    result, _ = collect(tmp_path / "data", "--variant", "1m", "--from-file", archive)

    assert_fails_in_one_line(result, 3, "ChecksumMismatchError", f"has md5 {actual}",
                             f"the published md5 of MovieLens 1m is {PINNED_1M}", f"Pass --md5 {actual}")
    assert store_rows(tmp_path / "data") == before
    assert not (tmp_path / "data" / "raw").exists()
    accepted = invoke_cli("collect", "movielens", "--variant", "1m", "--from-file", archive, "--md5", actual,
                          data_dir=tmp_path / "data", env=NO_DB)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "matches the published checksum" in accepted.stdout
    assert len(store_rows(tmp_path / "data")["interactions"]) == len(before["interactions"]) + 1


def test_a_catalog_line_in_another_encoding_garbles_no_other_title(tmp_path):
    release = small_1m(tmp_path, b"1::1::4.5::1230000000\n2::2::3.5::1230000001\n3::3::3::1230000002\n")
    (release / "users.dat").unlink()  # the ML-10M layout: movies.dat is UTF-8, with lines in latin-1
    (release / "movies.dat").write_bytes("1::Amélie (2001)::Comedy\n".encode()
                                         + "2::Misérables, Les (1995)::Drama\n".encode("latin-1")
                                         + b"3::Heat\x85 (1995)::Action\n")  # 0x85: no line break in latin-1

    result, report = collect(tmp_path / "data", "--variant", "10m", "--from-file", release, "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    assert report["rejected"] == 0 and report["stored"]["items"] == 3
    store = Store.open(f"sqlite:///{tmp_path / 'data' / 'store.sqlite'}")
    with store.begin() as conn:
        titles = sorted(t for (t,) in fetch_rows(conn, "SELECT title FROM items"))
    store.dispose()
    assert titles == ["Amélie", "Heat", "Les Misérables"]
