"""MovieLens collection end to end: real releases over a loopback server, faults,
malformed lines, checksum and archive failures, and a collect killed mid-way."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from conftest import zip_folder
from support.http_server import LoopbackServer
from timgen_data.collectors.movielens import collect_movielens, split_title
from timgen_data.errors import ArchiveError, ChecksumMismatchError, MalformedInputError
from timgen_data.store import Store, models


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def counts(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(models.metadata.tables[name])).scalar_one()
            for name in ("users", "items", "item_links", "interactions", "sources")
        }


@pytest.fixture(scope="module")
def archives(tmp_path_factory, shared_data) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("archives")
    return {
        "100k": zip_folder(shared_data / "ml-100k", folder / "ml-100k.zip"),
        "latest-small": zip_folder(shared_data / "ml-latest-small", folder / "ml-latest-small.zip"),
    }


def test_real_ml_100k_over_http(store, archives, tmp_path):
    archive = archives["100k"]
    with LoopbackServer() as server:
        server.add_file("/ml-100k.zip", archive.read_bytes())
        report = collect_movielens(store, "100k", data_dir=tmp_path, base_url=server.url, expected_md5=md5_of(archive))
    assert report.md5_verified
    assert counts(store) == {"users": 943, "items": 1682, "item_links": 0, "interactions": 100_000, "sources": 1}
    with store.begin() as conn:
        genres = {c for (c,) in conn.execute(select(models.items.c.categories))}
        titles = set(conn.execute(select(models.items.c.title)).scalars())
        user = conn.execute(select(models.users.c.attributes).where(models.users.c.external_id == "1")).scalar_one()
        source = conn.execute(select(models.sources)).mappings().one()
    assert len({g for c in genres for g in json.loads(c)}) == 19
    assert "Les Misérables" in titles  # u.item is latin-1
    assert json.loads(user) == {"age": 24, "gender": "male", "occupation": "technician", "zip": "85711"}
    assert source["status"] == "complete" and source["md5"] == md5_of(archive)
    assert json.loads(source["counts"])["interactions"] == 100_000


def _readme_figures(readme: Path) -> dict[str, int]:
    text = readme.read_text(encoding="utf-8")
    ratings = re.search(r"contains ([\d,]+) ratings", text)
    movies = re.search(r"across ([\d,]+) movies", text)
    users = re.search(r"created by ([\d,]+) users", text)
    return {k: int(m.group(1).replace(",", "")) for k, m in
            (("ratings", ratings), ("movies", movies), ("users", users))}


def test_real_latest_small(store, archives, tmp_path, shared_data):
    report = collect_movielens(store, "latest-small", data_dir=tmp_path, from_file=archives["latest-small"])
    expected = _readme_figures(shared_data / "ml-latest-small" / "README.txt")
    imdb_rows = sum(1 for line in (shared_data / "ml-latest-small" / "links.csv").read_text().splitlines()[1:]
                    if line.split(",")[1])
    stored = counts(store)
    assert stored["users"] == expected["users"]
    assert stored["items"] == expected["movies"]
    with store.begin() as conn:
        ratings = conn.execute(
            select(func.count()).select_from(models.interactions).where(models.interactions.c.action == "rate")
        ).scalar_one()
        imdb = conn.execute(
            select(func.count()).select_from(models.item_links).where(models.item_links.c.target_source == "imdb")
        ).scalar_one()
        toy = conn.execute(
            select(models.item_links.c.target_external_id)
            .join(models.items, models.items.c.id == models.item_links.c.item_id)
            .where(models.items.c.external_id == "1", models.item_links.c.target_source == "imdb")
        ).scalar_one()
    assert ratings == expected["ratings"]
    assert imdb == imdb_rows == expected["movies"]
    assert toy == "tt0114709"
    assert report.rejections.count == 0


def test_collect_twice_gives_one_run(sqlite_store, archives, tmp_path):
    first = collect_movielens(sqlite_store, "100k", data_dir=tmp_path, from_file=archives["100k"])
    after_first = counts(sqlite_store)
    second = collect_movielens(sqlite_store, "100k", data_dir=tmp_path, from_file=archives["100k"], force=True)
    assert counts(sqlite_store) == after_first
    assert first.written["interactions"] == 100_000 and second.written["interactions"] == 0


def test_server_errors_and_a_dropped_connection_are_survived(sqlite_store, archives, tmp_path):
    archive = archives["100k"]
    with LoopbackServer() as server:
        server.add_file("/ml-100k.zip", archive.read_bytes())
        server.add_faults("/ml-100k.zip", [("status", 500), ("drop_after", 100_000)])
        collect_movielens(sqlite_store, "100k", data_dir=tmp_path, base_url=server.url, expected_md5=md5_of(archive))
        ranges = [r.range for r in server.requests if r.path == "/ml-100k.zip"]
    assert ranges[-1] == "bytes=100000-"
    assert counts(sqlite_store)["interactions"] == 100_000


def test_checksum_mismatch_writes_nothing(sqlite_store, archives, tmp_path):
    with LoopbackServer() as server:
        server.add_file("/ml-100k.zip", archives["100k"].read_bytes())
        with pytest.raises(ChecksumMismatchError, match="ml-100k.zip"):
            collect_movielens(sqlite_store, "100k", data_dir=tmp_path, base_url=server.url, expected_md5="0" * 32)
    assert counts(sqlite_store) == {"users": 0, "items": 0, "item_links": 0, "interactions": 0, "sources": 0}
    assert not (tmp_path / "downloads" / "ml-100k.zip").exists()


def test_published_md5_sidecar_is_used(sqlite_store, archives, tmp_path):
    archive = archives["100k"]
    with LoopbackServer() as server:
        server.add_file("/ml-100k.zip", archive.read_bytes())
        server.add_file("/ml-100k.zip.md5", f"MD5 (ml-100k.zip) = {md5_of(archive)}\n".encode())
        report = collect_movielens(sqlite_store, "100k", data_dir=tmp_path, base_url=server.url)
    assert report.md5_verified and report.md5 == md5_of(archive)


def test_truncated_archive_is_a_typed_error(sqlite_store, archives, tmp_path):
    broken = tmp_path / "ml-100k.zip"
    data = archives["100k"].read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="--force"):
        collect_movielens(sqlite_store, "100k", data_dir=tmp_path / "d", from_file=broken)
    assert counts(sqlite_store)["interactions"] == 0


def _write_small_1m(folder: Path, ratings: list[str]) -> Path:
    release = folder / "ml-1m"
    release.mkdir(parents=True)
    (release / "movies.dat").write_bytes(
        "1::Matrix, The (1999)::Action|Sci-Fi\n2::Misérables, Les (1995)::Drama\n".encode("latin-1")
    )
    (release / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n", encoding="latin-1")
    (release / "ratings.dat").write_text("".join(line + "\n" for line in ratings), encoding="latin-1")
    return release


def test_malformed_lines_are_reported_with_line_numbers(sqlite_store, tmp_path):
    release = _write_small_1m(tmp_path, [
        "1::1::5::978300760", "1::2::oops::978300761", "2::1::4", "2::2::9::978300762", "2::1::3::978300763",
    ])
    report = collect_movielens(sqlite_store, "1m", data_dir=tmp_path / "d", from_file=release)
    assert [str(r) for r in report.rejections.kept] == [
        "ratings.dat:2: rating 'oops' is not a number",
        "ratings.dat:3: expected 4 fields, found 3",
        "ratings.dat:4: rating 9.0 outside 0.5–5.0",
    ]
    assert counts(sqlite_store)["interactions"] == 2
    with sqlite_store.begin() as conn:
        items = dict(conn.execute(select(models.items.c.external_id, models.items.c.title)).all())
        user = conn.execute(select(models.users.c.attributes).where(models.users.c.external_id == "1")).scalar_one()
    assert items == {"1": "The Matrix", "2": "Les Misérables"}
    assert json.loads(user)["age_group"] == "Under 18" and json.loads(user)["occupation"] == "K-12 student"


def test_strict_stops_at_the_first_bad_line(sqlite_store, tmp_path):
    release = _write_small_1m(tmp_path, ["1::1::5::978300760", "1::2::oops::978300761"])
    with pytest.raises(MalformedInputError, match="ratings.dat:2"):
        collect_movielens(sqlite_store, "1m", data_dir=tmp_path / "d", from_file=release, strict=True)


@pytest.mark.parametrize("raw, expected", [
    ("Matrix, The (1999)", ("The Matrix", 1999)),
    ("Misérables, Les (1995)", ("Les Misérables", 1995)),
    ("Toy Story (1995)", ("Toy Story", 1995)),
    ("Shawshank Redemption, The (1994)", ("The Shawshank Redemption", 1994)),
    ("Babe: Pig in the City (1998)", ("Babe: Pig in the City", 1998)),
    ("Stranger Things", ("Stranger Things", None)),
    ("Cosmos (1980– )", ("Cosmos", 1980)),
])
def test_split_title(raw, expected):
    assert split_title(raw) == expected


_KILLER = """
import os, signal, sys
from pathlib import Path
from timgen_data.collectors.movielens import collect_movielens
from timgen_common.progress import SilentProgress
from timgen_data.store import Store

class KillAfterTwoChunks(SilentProgress):
    seen = 0
    def advance(self, task, amount=1):
        if task == "store interactions" and amount:
            self.seen += 1
            if self.seen == 3:  # after three committed chunks
                os.kill(os.getpid(), signal.SIGKILL)

store = Store.open(sys.argv[1])
collect_movielens(store, "100k", data_dir=Path(sys.argv[2]), from_file=Path(sys.argv[3]),
                  progress=KillAfterTwoChunks(), chunk_rows=10_000)
"""


def test_collect_killed_with_sigkill_then_rerun(tmp_path, archives):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    Store.open(url).dispose()
    killed = subprocess.run(
        [sys.executable, "-c", _KILLER, url, str(tmp_path / "d"), str(archives["100k"])],
        capture_output=True, timeout=120, env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    store = Store.open(url)
    assert counts(store)["interactions"] == 30_000
    report = collect_movielens(store, "100k", data_dir=tmp_path / "d", from_file=archives["100k"], chunk_rows=10_000)
    assert report.resumed_from == 30_000
    assert counts(store) == {"users": 943, "items": 1682, "item_links": 0, "interactions": 100_000, "sources": 1}
    with store.begin() as conn:
        duplicates = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM (SELECT user_id, item_id, ts, action FROM interactions "
            "GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1) d"
        ).scalar_one()
    assert duplicates == 0


def test_ml_10m_layout_without_users_file(sqlite_store, tmp_path):
    release = _write_small_1m(tmp_path, ["1::1::4.5::1230000000", "2::2::3.5::1230000001"])
    (release / "users.dat").unlink()
    (release / "movies.dat").write_text("1::Matrix, The (1999)::Action|Sci-Fi\n2::Amélie (2001)::Comedy|Romance\n",
                                        encoding="utf-8")
    report = collect_movielens(sqlite_store, "10m", data_dir=tmp_path / "d", from_file=release)
    assert report.namespace == "movielens-10m"
    assert report.skipped["users_added_from_ratings"] == 2 and counts(sqlite_store)["interactions"] == 2
    with sqlite_store.begin() as conn:
        titles = set(conn.execute(select(models.items.c.title)).scalars())
    assert titles == {"The Matrix", "Amélie"}
