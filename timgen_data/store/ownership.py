"""Telling a timgen store from another application's database before anything is written.

``--db`` can point at any file or database by mistake. The store only ever creates its
tables in an empty database or opens its own; anything else is refused and left exactly
as it was (for a SQLite file: not even its journal mode is changed).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from timgen_data.errors import StoreError, UsageError

SQLITE_MAGIC = b"SQLite format 3\x00"
# Every schema version of the store has had these two tables.
STORE_TABLES = frozenset({"schema_version", "interactions"})
_DB_FIX = "pass --db a new file (or an empty database) or an existing timgen store"


def classify(table_names: Iterable[str]) -> Literal["empty", "store", "foreign"]:
    """``empty`` (no tables: the store may be created), ``store`` (a timgen store), ``foreign``.

    >>> classify([]), classify(["schema_version", "interactions", "labels"]), classify(["invoices"])
    ('empty', 'store', 'foreign')
    """
    names = set(table_names)
    if not names:
        return "empty"
    return "store" if STORE_TABLES <= names else "foreign"


def foreign_database_error(where: str, table_names: Iterable[str]) -> UsageError:
    """The refusal for a database that holds another application's tables."""
    names = sorted(table_names)
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return UsageError(f"{where} holds another application's tables ({shown}), not a timgen store, and was "
                      f"left unchanged; {_DB_FIX}")


def check_sqlite_file(path: Path) -> None:
    """Refuse ``path`` unless it is missing, empty, or a SQLite database that is empty or a timgen store.

    Read through a read-only connection, so a refused file keeps every byte.
    """
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(SQLITE_MAGIC))
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise UsageError(f"--db {path} is a folder, not a SQLite file; {_DB_FIX}") from None
    if not header:
        return  # a zero-byte file is what SQLite itself creates for a new database
    if header != SQLITE_MAGIC:
        raise UsageError(f"--db {path} is not a SQLite database (it does not start with the SQLite header) and "
                         f"was left unchanged; {_DB_FIX}")
    if classify(names := _sqlite_tables(path)) == "foreign":
        raise foreign_database_error(f"the SQLite file {path}", names)


def _sqlite_tables(path: Path) -> list[str]:
    try:
        conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, timeout=60)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the SQLite file {path}: {exc}; check --db and its permissions") from None
    try:
        return [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND substr(name, 1, 7) != 'sqlite_'")]
    except sqlite3.OperationalError as exc:
        raise StoreError(f"cannot read the SQLite file {path}: {exc}; check --db and its permissions") from None
    except sqlite3.DatabaseError as exc:
        raise UsageError(f"--db {path} is not a readable SQLite database ({exc}) and was left unchanged; "
                         f"{_DB_FIX}") from None
    finally:
        conn.close()
