"""Shared fixtures: real data location, stores on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from support.postgres import ENV_URL, fresh_database, postgres_bin_dir, private_cluster  # noqa: E402
from support.real_files import shared_data_path  # noqa: E402

from timgen_data.store import Store  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return shared_data_path(what="real MovieLens data", needs="ml-100k/u.data")


def zip_folder(folder: Path, archive: Path) -> Path:
    """Zip a release folder in the official layout (``<name>/<file>``)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.name}")
    return archive


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory) -> str:
    if os.environ.get(ENV_URL):
        yield os.environ[ENV_URL]
        return
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed; `apt-get install postgresql` to run these")
    with private_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> Store:
    """The same test on a SQLite file and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        opened = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
        yield opened
        opened.dispose()
        return
    server = request.getfixturevalue("postgres_server")
    with fresh_database(server) as url:
        opened = Store.open(url)
        yield opened
        opened.dispose()


@pytest.fixture
def postgres_store(postgres_server) -> Store:
    """A fresh PostgreSQL database, for tests of what only PostgreSQL does."""
    with fresh_database(postgres_server) as url:
        opened = Store.open(url)
        yield opened
        opened.dispose()


@pytest.fixture
def sqlite_store(tmp_path) -> Store:
    opened = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}")
    yield opened
    opened.dispose()


@pytest.fixture(scope="session")
def ml100k_labelled(tmp_path_factory, shared_data) -> Store:
    """The real ML-100K, collected and labelled (movie) once for every test that only reads it."""
    from timgen_data.collectors.movielens import collect_movielens
    from timgen_data.labeling import label_store

    folder = tmp_path_factory.mktemp("ml100k-labelled")
    store = Store.open(f"sqlite:///{folder / 'store.sqlite'}")
    collect_movielens(store, "100k", data_dir=folder, from_file=shared_data / "ml-100k")
    label_store(store, "movie")
    yield store
    store.dispose()

