"""``--split given``: each interaction's split from a CSV, looked up without loading the CSV.

The file has one row per interaction (``user_id``, ``item_id``, ``ts``, ``split``), as
large as the corpus, so it is read in chunks into a SQLite file of its own (beside the
dataset being written, removed when done) keyed on (user, item, ts), and each chunk of
users the build streams looks up only its own rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from timgen_data.errors import UsageError

SPLIT_NAMES = {"train": 0, "validation": 1, "valid": 1, "test": 2, "0": 0, "1": 1, "2": 2}
_READ_ROWS = 200_000
_MISSING = -1


class SplitFile:
    """The split of an interaction as the file gives it (0 train, 1 validation, 2 test)."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def labels(self, users: np.ndarray, items: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """The code of each (user, item, ts) row (int8), -1 where the file has none."""
        wanted = pd.unique(users)
        self._conn.execute("DELETE FROM temp.wanted")
        self._conn.executemany("INSERT INTO temp.wanted VALUES (?)", ((str(u),) for u in wanted))
        found = pd.DataFrame(self._conn.execute(
            "SELECT g.user_id, g.item_id, g.ts, g.split FROM given g JOIN temp.wanted w ON w.user_id = g.user_id"
        ).fetchall(), columns=["user_id", "item_id", "ts", "split"])
        index = pd.MultiIndex.from_arrays([found["user_id"].astype(object), found["item_id"].astype(object),
                                           found["ts"].astype(np.int64)])
        lookup = pd.Series(found["split"].to_numpy(dtype=np.int8), index=index)
        keys = pd.MultiIndex.from_arrays([pd.Series(users, dtype=object), pd.Series(items, dtype=object),
                                          pd.Series(ts, dtype=np.int64)])
        return lookup.reindex(keys).fillna(_MISSING).to_numpy(dtype=np.int8)


@contextmanager
def open_split_file(path: Path, workdir: Path) -> Iterator[SplitFile]:
    """Index the split file ``path`` in a SQLite file under ``workdir``; removed on leaving.

    Errors in the file (missing, lacking a column, an unknown split name) are one-line
    :class:`UsageError`s. Where a (user, item, ts) appears twice, its first row counts.
    """
    index_file = workdir / ".split-file.sqlite"
    index_file.unlink(missing_ok=True)
    try:
        with closing(sqlite3.connect(index_file)) as conn:
            conn.execute("PRAGMA journal_mode = OFF")
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("CREATE TABLE given (user_id TEXT, item_id TEXT, ts INTEGER, split INTEGER, "
                         "UNIQUE (user_id, item_id, ts))")
            conn.execute("CREATE TEMP TABLE wanted (user_id TEXT PRIMARY KEY)")
            for chunk in _read(path):
                conn.executemany("INSERT OR IGNORE INTO given VALUES (?, ?, ?, ?)", chunk)
            conn.commit()
            yield SplitFile(conn)
    finally:
        index_file.unlink(missing_ok=True)


def _read(path: Path) -> Iterator[list[tuple]]:
    """The file's rows as (user_id, item_id, ts, code) tuples, a bounded chunk at a time."""
    try:
        reader = pd.read_csv(path, dtype={"user_id": str, "item_id": str, "split": str}, chunksize=_READ_ROWS)
    except FileNotFoundError:
        raise not_found_error(path) from None
    except pd.errors.EmptyDataError:
        raise empty_error(path) from None
    with reader:
        for given in reader:
            missing = {"user_id", "item_id", "ts", "split"} - set(given.columns)
            if missing:
                raise missing_columns_error(path, missing)
            codes = given["split"].str.strip().str.lower().map(SPLIT_NAMES)
            if codes.isna().any():
                raise unknown_split_error(path, given.loc[codes.isna(), "split"].iloc[0])
            yield list(zip(_text(given["user_id"]), _text(given["item_id"]),
                           given["ts"].astype(np.int64).tolist(), codes.astype(np.int64).tolist()))


# The file's errors, said alike by every engine.
def not_found_error(path) -> UsageError:
    return UsageError(f"split file {path} not found; pass the splits.csv that `collect mmrec` wrote")


def empty_error(path) -> UsageError:
    return UsageError(f"split file {path} is empty; it needs the columns user_id, item_id, ts and split")


def missing_columns_error(path, missing: set[str]) -> UsageError:
    return UsageError(f"split file {path} lacks the column(s) {', '.join(sorted(missing))}; it needs "
                      "user_id, item_id, ts and split")


def unknown_split_error(path, bad) -> UsageError:
    return UsageError(f"split file {path}: split {bad!r} is not train/validation/test or 0/1/2")


def lacking_rows_error(path, missing: int, user: str, item: str, ts: int) -> UsageError:
    """Interactions the build keeps that the file has no split for: how many, and the first one."""
    return UsageError(
        f"split file {path} has no split for {missing} interaction(s), e.g. user {user!r}, "
        f"item {item!r}, ts {ts}; it must list every interaction the build keeps (build from the same "
        "source, or use another --split)")


def _text(column: pd.Series) -> list:
    """Ids as text, a missing one as None (it then matches nothing, as before)."""
    return [None if pd.isna(v) else str(v) for v in column.tolist()]
