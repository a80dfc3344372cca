"""MMRec's and IMDb's real files (``../shared/real/``) through their collectors.

Expected values are read from the files here, with ``csv``, never from our own output.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from support.real_files import real_path

from timgen_data.collectors.imdb import collect_imdb_dumps
from timgen_data.collectors.mmrec import collect_mmrec
from timgen_data.store import fetch_rows


def real(*parts: str) -> Path:
    return real_path(*parts, what="the real service file")


def tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def stored_interactions(store, namespace: str) -> set[tuple]:
    with store.begin() as conn:
        rows = fetch_rows(conn, "SELECT u.external_id, it.external_id, x.ts, x.action, x.value FROM interactions x "
                                "JOIN users u ON u.id = x.user_id JOIN items it ON it.id = x.item_id "
                                "WHERE it.source = :ns", {"ns": namespace})
    return {tuple(row) for row in rows}


@pytest.mark.parametrize("folder", ["baby", "baby_mapped"])
def test_real_mmrec_slices_store_every_rating_under_the_original_ids(sqlite_store, tmp_path, folder):
    source = real("mmrec", folder)
    # The collector may write beside its input: work on a copy, never on ../shared.
    copy = tmp_path / folder
    shutil.copytree(source, copy)
    inter = tsv(next(copy.glob("*.inter")))
    users = {row["userID"]: row["user_id"] for row in tsv(copy / "u_id_mapping.csv")}
    items_file = copy / "i_id_mapping.csv"
    items = {row["itemID"]: row["asin"] for row in tsv(items_file)} if items_file.exists() else {}
    expected = {(users.get(r["userID"], r["userID"]), items.get(r["itemID"], r["itemID"]), int(r["timestamp"]),
                 "rate", float(r["rating"])) for r in inter}

    report = collect_mmrec(sqlite_store, copy, data_dir=tmp_path / "data")

    namespace = report.namespace
    assert stored_interactions(sqlite_store, namespace) == expected
    assert report.stored["interactions"] == len(inter)
    if items:  # ASINs keep their leading zeros and letters
        with sqlite_store.begin() as conn:
            stored = {r[0] for r in fetch_rows(conn, "SELECT external_id FROM items WHERE source = :ns",
                                               {"ns": namespace})}
        assert {items[r["itemID"]] for r in inter} <= stored
        assert any(asin.startswith("0") for asin in stored)


def test_real_title_basics_head_stores_each_title_as_published(sqlite_store, tmp_path):
    rows = tsv(real("imdb", "title.basics.tsv"))
    types = sorted({r["titleType"] for r in rows})
    report = collect_imdb_dumps(sqlite_store, ["title.basics"], data_dir=tmp_path,
                                from_file=real("imdb", "title.basics.tsv").parent, title_types=types)
    assert report.read["titles"] == len(rows) and report.rejections.count == 0
    with sqlite_store.begin() as conn:
        stored = {r[0]: r[1:] for r in fetch_rows(
            conn, "SELECT external_id, title, year, categories FROM items WHERE source = 'imdb'")}
    assert set(stored) == {r["tconst"] for r in rows}
    for row in rows:
        title, year, categories = stored[row["tconst"]]
        assert title == row["primaryTitle"]
        assert year == (None if row["startYear"] == "\\N" else int(row["startYear"]))
        genres = [] if row["genres"] == "\\N" else row["genres"].split(",")
        assert json.loads(categories) == genres
