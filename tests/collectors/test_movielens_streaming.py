"""``collect movielens`` reads ratings a block at a time and stores them a chunk at a time:
the store and the report are the same whatever the block and chunk sizes (down to a few
rows, so ``::`` and lines fall across block ends), the same as before it streamed (pinned
digests on the real releases), and the same after a run stopped half-way is run again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import zip_folder
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.demo.corpus import CorpusSpec, generate_corpus
from timgen_common.progress import SilentProgress
from timgen_data.store import Store, fetch_rows

# What the store held after collecting the real releases before ratings were streamed
# (same queries as ``store_digest``, SQLite).
PINNED = {
    "100k": {
        "users": "f4eb4089d09c9432ba258973a1a5996f9674270a1b787c9ec9c075939ec16089",
        "items": "46f4f2353c3bb2bb75f06b06c06f26c69d7b9bf138ca408fa5d7ec14ef09a46b",
        "item_links": "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
        "interactions": "be87a99b2d8a65ecced709787763c0958dc519b795060deb74123478782d938e",
        "sources": "2a3707413cffc3288c4d177ba12ad60091728dae73f835374c4b057c1cdb7962",
    },
    "latest-small": {
        "users": "e1b12d720953886c4c0f1b06d515fe761150d5ab4af74f35daa2e4a8429e0895",
        "items": "1544ec45b6dfc09ee7ddda0d4af2b1b6ee8cebe0c24480a68517a2bc100d68fc",
        "item_links": "aa622df819fa7b7dbe894c4da2fbcba9dd985926234e87382fd758eb83882533",
        "interactions": "c1583c8e699ec6e837ea42321ddef4de1478cc4aa3f3e194cf946e0589534574",
        # Its counts hold the tag interactions too (1,247 of them), stored since.
        "sources": "80bdbb32512db31c8cdef2b79246b2dade5d3ca4eb8c5b88e38f7f4a22a7bcc3",
    },
}

_DUMPS = {
    "users": "SELECT id, source, external_id, attributes FROM users ORDER BY id",
    "items": "SELECT id, source, external_id, title, year, category, categories, attributes FROM items ORDER BY id",
    "item_links": "SELECT item_id, target_source, target_external_id, method, confidence FROM item_links "
                  "ORDER BY 1, 2, 3",
    # Ratings only: tags (stored since) come after them and have tests of their own.
    "interactions": "SELECT id, user_id, item_id, ts, action, value, source_id FROM interactions "
                    "WHERE action = 'rate' ORDER BY id",
    "sources": "SELECT id, collector, variant, namespace, status, counts FROM sources ORDER BY id",
}


def store_digest(store: Store) -> dict[str, str]:
    """A sha256 of every row a MovieLens collect writes, table by table."""
    with store.begin() as conn:
        return {name: hashlib.sha256(repr([tuple(r) for r in fetch_rows(conn, sql)]).encode()).hexdigest()
                for name, sql in _DUMPS.items()}


def figures(report) -> dict:
    """The report less what differs between a first run and a repeat (rows written, where it resumed)."""
    shown = report.as_dict()
    return {k: shown[k] for k in ("read", "stored", "skipped", "rejected", "rejections")}


def collect(tmp_path: Path, release: Path, variant: str, name: str, **options):
    store = Store.open(f"sqlite:///{tmp_path / name / 'store.sqlite'}")
    report = collect_movielens(store, variant, data_dir=tmp_path / name, from_file=release, **options)
    digest = store_digest(store)
    store.dispose()
    return report, digest


@pytest.mark.parametrize("variant, folder", [("100k", "ml-100k"), ("latest-small", "ml-latest-small")])
def test_real_releases_read_in_small_blocks_store_what_they_stored_before(tmp_path, shared_data, variant, folder):
    archive = zip_folder(shared_data / folder, tmp_path / f"{folder}.zip")

    report, digest = collect(tmp_path, archive, variant, "blocks", block_bytes=4096, chunk_rows=9_973)

    assert digest == PINNED[variant]
    assert report.rejections.count == 0 and report.skipped["duplicates_dropped"] == 0


@pytest.mark.parametrize("layout, variant", [("1m", "1m"), ("latest-small", "25m")])
def test_generated_releases_read_in_blocks_of_a_few_rows_store_what_one_block_stores(tmp_path, layout, variant):
    corpus = generate_corpus(tmp_path / "gen", CorpusSpec(users=40, items=60, ratings=600, seed=5, layout=layout))

    whole, whole_digest = collect(tmp_path, corpus.folder, variant, "whole", block_bytes=1 << 30)
    tiny, tiny_digest = collect(tmp_path, corpus.folder, variant, "tiny", block_bytes=7, chunk_rows=7)

    assert tiny_digest == whole_digest
    assert figures(tiny) == figures(whole)
    assert whole.stored["interactions"] == 600 and whole.rejections.count == 0


class StopAfterChunks(SilentProgress):
    """Stands for a kill: raises once ``chunks`` chunks of interactions were committed."""

    def __init__(self, chunks: int):
        self.left = chunks

    def advance(self, task: str, amount: float = 1) -> None:
        if task == "store interactions" and amount:
            self.left -= 1
            if self.left == 0:
                raise KeyboardInterrupt


def small_1m_with_duplicates(folder: Path) -> Path:
    """An ML-1M-layout release whose ratings repeat (user, item, time) across block and chunk ends,
    with bad lines between them and users and an item the catalog lacks."""
    release = folder / "ml-1m"
    release.mkdir(parents=True)
    (release / "movies.dat").write_bytes(b"1::Heat (1995)::Action\n2::Babe (1995)::Comedy\n3::Fargo (1996)::Crime\n")
    (release / "users.dat").write_bytes(b"1::F::1::10::48067\n2::M::56::16::70072\n")
    lines = [f"{u}::{i}::{(u * i) % 5 + 1}::97830{u:02d}{i:02d}" for u in range(1, 7) for i in (1, 2, 3, 4)]
    lines[5:5] = [lines[0], "1::1::oops::978300101"]  # a repeat and a bad line
    lines += [lines[9], lines[9].replace("::97830", "::97831"), lines[20], "2::2"]
    (release / "ratings.dat").write_text("".join(line + "\n" for line in lines))
    return release


def open_store(url_or_path) -> Store:
    return Store.open(url_or_path if isinstance(url_or_path, str) else f"sqlite:///{url_or_path}")


@pytest.fixture(params=["sqlite", "postgresql"])
def two_stores(request, tmp_path):
    """Two empty stores of one kind: one for a clean run, one for a run stopped and run again."""
    if request.param == "sqlite":
        yield tmp_path / "clean.sqlite", tmp_path / "resumed.sqlite"
        return
    from support.postgres import fresh_database

    server = request.getfixturevalue("postgres_server")
    with fresh_database(server) as clean, fresh_database(server) as resumed:
        yield clean, resumed


def test_a_run_stopped_half_way_and_run_again_stores_and_reports_what_one_run_does(tmp_path, two_stores):
    release = small_1m_with_duplicates(tmp_path / "release")
    options = {"block_bytes": 11, "chunk_rows": 3}
    clean_url, resumed_url = two_stores

    clean = open_store(clean_url)
    one_run = collect_movielens(clean, "1m", data_dir=tmp_path / "d1", from_file=release, **options)
    expected = store_digest(clean)
    clean.dispose()

    resumed = open_store(resumed_url)
    with pytest.raises(KeyboardInterrupt):
        collect_movielens(resumed, "1m", data_dir=tmp_path / "d2", from_file=release,
                          progress=StopAfterChunks(4), **options)
    again = collect_movielens(resumed, "1m", data_dir=tmp_path / "d2", from_file=release, **options)
    forced = collect_movielens(resumed, "1m", data_dir=tmp_path / "d2", from_file=release, force=True)

    assert store_digest(resumed) == expected
    resumed.dispose()
    assert again.resumed_from == 12 and forced.resumed_from == 0
    assert figures(again) == figures(forced) == figures(one_run)
    assert one_run.skipped == {"users_added_from_ratings": 4, "items_added_from_ratings": 1, "duplicates_dropped": 3}
    assert one_run.read["interactions"] == 28 and one_run.stored["interactions"] == 25
    assert [str(r) for r in one_run.rejections.kept] == ["ratings.dat:7: rating 'oops' is not a number",
                                                          "ratings.dat:30: expected 4 fields, found 2"]
    assert one_run.written["interactions"] == 25 and forced.written["interactions"] == 0


def test_duplicates_are_the_ratings_the_store_kept_out_whatever_the_chunks(tmp_path):
    release = small_1m_with_duplicates(tmp_path / "release")

    whole, whole_digest = collect(tmp_path, release, "1m", "whole", block_bytes=1 << 30)
    tiny, tiny_digest = collect(tmp_path, release, "1m", "tiny", block_bytes=1, chunk_rows=1)

    assert tiny_digest == whole_digest and figures(tiny) == figures(whole)
    assert whole.skipped["duplicates_dropped"] == 3
    store = open_store(tmp_path / "whole" / "store.sqlite")
    with store.begin() as conn:
        (counts,), = fetch_rows(conn, "SELECT counts FROM sources")
    store.dispose()
    assert json.loads(counts)["duplicates_dropped"] == 3
