"""Where the toolkit keeps its files and which store it talks to.

Resolution order for both: explicit argument (CLI option), environment variable,
default. Kept in one place so every command words and resolves them the same way.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from timgen_data.disk_space import disk_full_error, is_disk_full
from timgen_data.errors import UsageError

DATA_DIR_ENV = "TIMGEN_DATA_DIR"
DB_ENV = "TIMGEN_DB"
DEFAULT_DATA_DIR = Path("timgen-data")


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``data_dir``, else ``$TIMGEN_DATA_DIR``, else ``./timgen-data``."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    return Path(chosen) if chosen else DEFAULT_DATA_DIR


def writable_data_dir(folder: Path) -> Path:
    """``folder`` (created if needed) once a file can be made in it; else a one-line UsageError.

    Run before a command's first write there, so a data dir under a file, under ``/proc``
    or on a read-only disk is refused before any work starts. A real file is made and
    removed because permission bits say nothing for root or on a read-only mount.

    >>> writable_data_dir(Path("timgen-data"))  # doctest: +SKIP
    PosixPath('timgen-data')
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".timgen-write-check-"):
            pass
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(folder, what="the data dir") from None
        raise UsageError(f"cannot use the data dir {folder} ({_why_not(exc, folder)}); pass --data-dir (or set "
                         f"{DATA_DIR_ENV}) to a folder you can write") from None
    return folder


def _why_not(error: OSError, folder: Path) -> str:
    blocking = Path(error.filename) if isinstance(error.filename, str) else folder
    for path in (blocking, *blocking.parents):
        if path.exists() and not path.is_dir():
            return f"{path} is a file"
    return error.strerror or str(error)


def resolve_db_url(db: str | None = None, data_dir: str | os.PathLike[str] | None = None) -> str:
    """The store URL: ``db``, else ``$TIMGEN_DB``, else a SQLite file in the data directory.

    >>> resolve_db_url("postgresql+psycopg://me@127.0.0.1/timgen")
    'postgresql+psycopg://me@127.0.0.1/timgen'
    """
    chosen = db or os.environ.get(DB_ENV)
    if chosen:
        return chosen
    path = resolve_data_dir(data_dir) / "store.sqlite"
    return f"sqlite:///{path}"


LAST_BUILD_FILE = "last-build.txt"


def remember_build(data_dir: Path, dataset_dir: Path) -> None:
    """Note ``dataset_dir`` as the latest build, so ``export`` and friends can default to it."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    (Path(data_dir) / LAST_BUILD_FILE).write_text(str(Path(dataset_dir).resolve()) + "\n", encoding="utf-8")


def last_build(data_dir: Path) -> Path | None:
    """The dataset folder ``build`` wrote last with this data directory, if it still exists."""
    note = Path(data_dir) / LAST_BUILD_FILE
    if not note.is_file():
        return None
    folder = Path(note.read_text(encoding="utf-8").strip())
    return folder if folder.is_dir() else None
