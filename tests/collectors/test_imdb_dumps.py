"""IMDb TSV dumps over a loopback server: nulls, quotes, malformed lines, ratings merged,
an idempotent re-run, a run killed mid-way that resumes, and merging with crawled pages."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from support.http_server import LoopbackServer

from timgen_data.collectors.imdb import collect_imdb_dumps
from timgen_data.collectors.imdb import dumps as dumps_module
from timgen_data.collectors.imdb.items import TitleItem
from timgen_data.collectors.imdb.page_records import title_record
from timgen_data.collectors.imdb.store import merge_items
from timgen_data.errors import UsageError
from timgen_data.store import Store, models

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imdb"
BOTH = ["title.basics", "title.ratings"]


def gz(name: str) -> bytes:
    # mtime=0: the same bytes (and sha256) every time, like a published file.
    return gzip.compress((FIXTURES / name).read_bytes(), mtime=0)


@pytest.fixture
def server():
    with LoopbackServer() as running:
        running.add_file("/title.basics.tsv.gz", gz("title.basics.tsv"))
        running.add_file("/title.ratings.tsv.gz", gz("title.ratings.tsv"))
        yield running


def items(store: Store) -> dict[str, dict]:
    with store.begin() as conn:
        rows = conn.execute(select(models.items).where(models.items.c.source == "imdb")).mappings().all()
    return {
        r["external_id"]: {**r, "categories": json.loads(r["categories"]), "attributes": json.loads(r["attributes"])}
        for r in rows
    }


def snapshot(store: Store) -> dict:
    with store.begin() as conn:
        return {
            "items": sorted(tuple(r[1:]) for r in conn.execute(select(models.items))),
            "sources": sorted((r.variant, r.sha256, r.status, r.counts) for r in conn.execute(select(models.sources))),
        }


def test_dumps_into_items(store, server, tmp_path):
    report = collect_imdb_dumps(store, BOTH, data_dir=tmp_path, base_url=server.url)
    stored = items(store)
    assert sorted(stored) == ["tt0000001", "tt0000002", "tt0000005", "tt0114709", "tt0133093"]
    quoted = stored["tt0000002"]
    assert quoted["title"] == 'The "Quoted" Film' and quoted["year"] == 1950 and quoted["category"] == "Drama"
    assert quoted["attributes"] == {"titleType": "movie", "originalTitle": 'Le film "cité"', "runtimeMinutes": None,
                                    "isAdult": False, "averageRating": 6.1, "numVotes": 15}
    nulls = stored["tt0000005"]  # \N in isAdult, startYear and genres, and a rating line that is malformed
    assert nulls["year"] is None and nulls["categories"] == [] and nulls["category"] is None
    assert "averageRating" not in nulls["attributes"]
    assert stored["tt0133093"]["categories"] == ["Action", "Sci-Fi"]
    assert stored["tt0133093"]["attributes"]["numVotes"] == 2_100_000
    assert report.read == {"title.basics lines": 8, "titles": 5, "ratings": 5}
    assert report.written == {"items": 5, "ratings": 4}
    assert report.skipped["other_title_types"] == 1  # the tvEpisode
    assert report.skipped["ratings_of_titles_not_stored"] == 1
    assert report.rejections.count == 5
    assert [(r.file, r.line) for r in report.rejections.kept] == [
        ("title.basics.tsv.gz", 5), ("title.basics.tsv.gz", 7),
        ("title.ratings.tsv.gz", 5), ("title.ratings.tsv.gz", 6), ("title.ratings.tsv.gz", 9),
    ]
    assert report.stored == {"items": 5}
    assert (tmp_path / "downloads" / "imdb" / "title.basics.tsv.gz").exists()
    with store.begin() as conn:
        sources = conn.execute(select(models.sources)).mappings().all()
    assert {s["variant"] for s in sources} == set(BOTH) and {s["status"] for s in sources} == {"complete"}

    before = snapshot(store)
    again = collect_imdb_dumps(store, BOTH, data_dir=tmp_path, base_url=server.url)
    assert snapshot(store) == before
    assert again.skipped["title_basics_already_stored"] == 8  # data lines
    assert again.skipped["title_ratings_already_stored"] == 7  # lines up to the last stored rating
    downloads = [r for r in server.requests if r.path.endswith(".tsv.gz")]
    assert len(downloads) == 2  # the second run reused the verified downloads


def test_a_killed_run_resumes_and_ends_like_a_clean_one(sqlite_store, server, tmp_path, monkeypatch):
    clean = Store.open(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    collect_imdb_dumps(clean, BOTH, data_dir=tmp_path / "clean", base_url=server.url, chunk_rows=2)

    real_merge, calls = dumps_module.merge_items, []

    def dies_on_the_second_chunk(conn, namespace, records):
        calls.append(len(records))
        if len(calls) == 2:
            raise KeyboardInterrupt  # what a Ctrl-C (or a kill) does in the middle of a chunk
        return real_merge(conn, namespace, records)

    monkeypatch.setattr(dumps_module, "merge_items", dies_on_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        collect_imdb_dumps(sqlite_store, BOTH, data_dir=tmp_path, base_url=server.url, chunk_rows=2)
    assert sorted(items(sqlite_store)) == ["tt0000001", "tt0000002"]  # only the first chunk committed
    monkeypatch.setattr(dumps_module, "merge_items", real_merge)

    resumed = collect_imdb_dumps(sqlite_store, BOTH, data_dir=tmp_path, base_url=server.url, chunk_rows=2)
    assert resumed.resumed_from == 2  # data lines the committed chunk covered
    assert resumed.written["items"] == 3
    assert snapshot(sqlite_store) == snapshot(clean)
    clean.dispose()


def test_title_types_filter_and_from_file(sqlite_store, tmp_path):
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "title.basics.tsv").write_bytes((FIXTURES / "title.basics.tsv").read_bytes())  # plain, not gzip
    report = collect_imdb_dumps(sqlite_store, ["title.basics"], data_dir=tmp_path, from_file=folder,
                                title_types=["tvEpisode", "short"])
    assert sorted(items(sqlite_store)) == ["tt0000001", "tt0000003"]
    assert report.archive == str(folder) and report.read["titles"] == 2
    with pytest.raises(UsageError, match="title.ratings.tsv.gz"):
        collect_imdb_dumps(sqlite_store, ["title.ratings"], data_dir=tmp_path, from_file=folder)


def test_unknown_dump_or_empty_types_are_usage_errors(sqlite_store, tmp_path):
    with pytest.raises(UsageError, match="name.basics"):
        collect_imdb_dumps(sqlite_store, ["name.basics"], data_dir=tmp_path)
    with pytest.raises(UsageError, match="title-types"):
        collect_imdb_dumps(sqlite_store, ["title.basics"], data_dir=tmp_path, title_types=[" "])


def test_pages_and_dumps_merge_in_either_order(sqlite_store, server, tmp_path):
    page = TitleItem("tt0133093", "https://www.imdb.com/title/tt0133093/", name="The Matrix", description="Plot.",
                     genres=["Action"], year=1999, runtime_minutes=136, rating_value=8.6, rating_count=5,
                     image="https://images.example.org/m.jpg")
    with sqlite_store.begin() as conn:
        merge_items(conn, "imdb", [title_record(page)])
    collect_imdb_dumps(sqlite_store, BOTH, data_dir=tmp_path, base_url=server.url)
    matrix = items(sqlite_store)["tt0133093"]
    assert matrix["text"] == "Plot." and matrix["attributes"]["image_url"] == "https://images.example.org/m.jpg"
    assert matrix["attributes"]["titleType"] == "movie" and matrix["attributes"]["numVotes"] == 2_100_000
    assert matrix["categories"] == ["Action", "Sci-Fi"]
    with sqlite_store.begin() as conn:
        merge_items(conn, "imdb", [title_record(page)])
        assert conn.execute(select(func.count()).select_from(models.items)).scalar_one() == 5
    matrix = items(sqlite_store)["tt0133093"]
    assert matrix["attributes"]["titleType"] == "movie" and matrix["attributes"]["numVotes"] == 5


def test_a_mirror_login_is_used_but_never_stored_or_reported(sqlite_store, server, tmp_path):
    secret = "s3cret-pw"
    base = server.url.replace("http://", f"http://reader:{secret}@")
    report = collect_imdb_dumps(sqlite_store, BOTH, data_dir=tmp_path, base_url=base)
    assert server.requests[0].headers["authorization"].startswith("Basic ")  # the login was sent
    assert secret not in json.dumps(report.as_dict())
    sqlite_store.dispose()  # checkpoint the WAL, so the file on disk holds every row
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("store.sqlite*"))
    assert b"sqlite" in stored.lower() and secret.encode() not in stored
    with sqlite_store.begin() as conn:
        urls = set(conn.execute(select(models.sources.c.url)).scalars())
    assert urls == {f"{server.url}/title.basics.tsv.gz", f"{server.url}/title.ratings.tsv.gz"}
