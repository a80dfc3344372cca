"""Where the toolkit keeps its files and which store it talks to.

Resolution order for both: explicit argument (CLI option), environment variable,
default. Kept in one place so every command words and resolves them the same way; the
resolution itself stands in :mod:`timgen_common.locations`, which the model shares.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from timgen_common.locations import DATA_DIR_ENV, DB_ENV, DEFAULT_DATA_DIR, resolve_data_dir, resolve_db_url
from timgen_data.disk_space import disk_full_error, is_disk_full
from timgen_data.errors import UsageError

__all__ = ["DATA_DIR_ENV", "DB_ENV", "DEFAULT_DATA_DIR", "LAST_BUILD_FILE", "last_build", "remember_build",
           "resolve_data_dir", "resolve_db_url", "writable_data_dir"]


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
