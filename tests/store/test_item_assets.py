"""Looking up a dataset's items' assets in the store, by the ids the dataset gives them."""

from __future__ import annotations

import time

from timgen_data.store import Store, fetch_rows, upsert_rows
from timgen_data.store.item_assets import StoredAsset, item_assets


def seeded(tmp_path) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    root = tmp_path / "assets"
    (root / "ab").mkdir(parents=True)
    (root / "ab" / "poster.png").write_bytes(b"png")
    with store.begin() as conn:
        upsert_rows(conn, "items", ["source", "external_id", "categories", "attributes"],
                    [("movielens-100k", "1", "[]", "{}"), ("movielens-100k", "2", "[]", "{}"),
                     ("imdb", "1", "[]", "{}")], conflict=["source", "external_id"])
        ids = {(s, e): i for i, s, e in fetch_rows(conn, "SELECT id, source, external_id FROM items")}
        now = int(time.time())
        upsert_rows(conn, "assets", ["item_id", "modality", "uri", "local_path", "mime", "status", "updated_at"], [
            (ids["movielens-100k", "1"], "image", "https://m/1.png", "ab/poster.png", "image/png", "ok", now),
            (ids["movielens-100k", "1"], "video", "youtube:abc", None, None, "pending", now),
            (ids["movielens-100k", "2"], "image", "https://m/2.png", "cd/gone.png", "image/png", "ok", now),
            (ids["imdb", "1"], "image", "https://imdb/1.jpg", None, None, "failed", now),
        ], conflict=["item_id", "modality", "uri"])
    return store


def test_assets_of_a_one_source_dataset(tmp_path):
    store = seeded(tmp_path)
    with store.begin() as conn:
        found = item_assets(conn, ["1", "2", "3"], tmp_path / "assets", ["movielens-100k"])
    assert found == {
        "1": [StoredAsset("image", "https://m/1.png", tmp_path / "assets" / "ab" / "poster.png", "image/png"),
              StoredAsset("video", "youtube:abc", None, None)],
        # Fetched once, but the file is no longer there: only where it came from.
        "2": [StoredAsset("image", "https://m/2.png", None, "image/png")],
    }


def test_assets_of_a_dataset_of_several_sources(tmp_path):
    store = seeded(tmp_path)
    with store.begin() as conn:
        found = item_assets(conn, ["imdb:1", "movielens-100k:2"], tmp_path / "assets", ["movielens-100k", "imdb"])
        unknown_sources = item_assets(conn, ["imdb:1"], tmp_path / "assets")
    assert found == {"imdb:1": [StoredAsset("image", "https://imdb/1.jpg", None, None)],
                     "movielens-100k:2": [StoredAsset("image", "https://m/2.png", None, "image/png")]}
    assert unknown_sources == {"imdb:1": [StoredAsset("image", "https://imdb/1.jpg", None, None)]}
