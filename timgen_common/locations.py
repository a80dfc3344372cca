"""Where the toolkit keeps its files and which store it talks to.

Resolution order for both: explicit argument (CLI option), environment variable,
default. Here, below both packages, because every output folder keeps away from them,
the model's training runs included.
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "TIMGEN_DATA_DIR"
DB_ENV = "TIMGEN_DB"
DEFAULT_DATA_DIR = Path("timgen-data")


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``data_dir``, else ``$TIMGEN_DATA_DIR``, else ``./timgen-data``."""
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    return Path(chosen) if chosen else DEFAULT_DATA_DIR


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
