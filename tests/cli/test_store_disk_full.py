"""The disk under a SQLite store fills up during ``collect`` and ``label`` (a real, small
tmpfs): one line naming the store's folder, exit 3, and once there is room the re-run
gives exactly what one clean run gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support.cli_process import assert_fails_in_one_line, invoke_cli
from support.small_disk import fill, small_disk
from timgen_data.collectors.movielens import collect_movielens
from timgen_data.labeling import label_store
from timgen_data.store import Store, fetch_rows

DISK = 40_000_000
# Less than the ~15 MB (database + WAL) ML-100K's store takes, more than a new store's.
ROOM_LEFT = 3_000_000


def query(store_file: Path, sql: str) -> list[tuple]:
    store = Store.open(f"sqlite:///{store_file}")
    with store.begin() as conn:
        rows = fetch_rows(conn, sql)
    store.dispose()
    return rows


def duplicate_interactions(store_file: Path) -> int:
    return query(store_file, "SELECT COUNT(*) FROM (SELECT user_id, item_id, ts, action FROM interactions "
                             "GROUP BY 1, 2, 3, 4 HAVING COUNT(*) > 1) d")[0][0]


@pytest.fixture(scope="module")
def ml100k_store(tmp_path_factory, shared_data) -> Path:
    """A store file holding ML-100K (collected once), and no labels."""
    folder = tmp_path_factory.mktemp("ml100k")
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}")
    collect_movielens(store, "100k", data_dir=folder, from_file=shared_data / "ml-100k")
    store.dispose()  # the last connection folds the WAL into the file
    return folder / "store.sqlite"


@pytest.mark.slow
def test_collect_on_a_full_disk_names_the_store_folder_then_completes_with_room(tmp_path, shared_data):
    with small_disk(tmp_path / "disk", DISK) as disk:
        filler = fill(disk, ROOM_LEFT)
        collect = ("collect", "movielens", "--variant", "100k", "--from-file", shared_data / "ml-100k")
        result = invoke_cli(*collect, data_dir=disk)
        assert_fails_in_one_line(result, 3, "DiskFullError", f"the disk holding {disk} is full", "store.sqlite",
                                 "it needs about", "re-run")
        store_file = disk / "store.sqlite"
        assert query(store_file, "SELECT COUNT(*) FROM interactions")[0][0] < 100_000
        assert duplicate_interactions(store_file) == 0

        filler.unlink()
        result = invoke_cli(*collect, data_dir=disk)
        assert result.returncode == 0, result.stderr
        assert query(store_file, "SELECT COUNT(*) FROM interactions") == [(100_000,)]
        assert query(store_file, "SELECT COUNT(*) FROM users") == [(943,)]
        assert query(store_file, "SELECT COUNT(*) FROM items") == [(1682,)]
        assert duplicate_interactions(store_file) == 0


def test_label_on_a_full_disk_names_the_store_folder_then_completes_with_room(tmp_path, ml100k_store):
    clean = tmp_path / "clean.sqlite"
    shutil.copy(ml100k_store, clean)
    store = Store.open(f"sqlite:///{clean}")
    label_store(store, "movie")
    store.dispose()
    expected = query(clean, "SELECT interaction_id, scenario, score, class FROM labels ORDER BY interaction_id")

    with small_disk(tmp_path / "disk", DISK) as disk:
        store_file = disk / "store.sqlite"
        shutil.copy(ml100k_store, store_file)
        filler = fill(disk, ROOM_LEFT)
        # The store on the full disk, the data dir elsewhere: the line must name the store's folder.
        label = ("--db", f"sqlite:///{store_file}", "label", "--scenario", "movie")
        result = invoke_cli(*label, data_dir=tmp_path / "data")
        assert_fails_in_one_line(result, 3, "DiskFullError", f"the disk holding {disk} is full", "store.sqlite",
                                 "it needs about", "re-run")
        assert query(store_file, "SELECT COUNT(*) FROM labels") == [(0,)]

        filler.unlink()
        result = invoke_cli(*label, data_dir=tmp_path / "data")
        assert result.returncode == 0, result.stderr
        labels = query(store_file, "SELECT interaction_id, scenario, score, class FROM labels ORDER BY interaction_id")
        assert len(labels) == 100_000 and labels == expected
