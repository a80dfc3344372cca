"""Where each walk of an API source stands: one JSON cursor per (source, key) in ``collection_state``.

Cursors are written in the caller's transaction, with the rows they account for, so a run
stopped at any point resumes at the first page not committed and never stores a row twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection

from timgen_data.store import load_cursor, save_cursor

Cursor = dict[str, Any]


class Cursors:
    """The cursors of one source (``collector`` in ``collection_state``), by key."""

    def __init__(self, collector: str) -> None:
        self.collector = collector

    def load(self, conn: Connection, key: str) -> Cursor | None:
        return load_cursor(conn, self.collector, key)

    def save(self, conn: Connection, key: str, cursor: Cursor) -> None:
        save_cursor(conn, self.collector, key, cursor)

    def advance(self, conn: Connection, key: str, step: Callable[[Cursor | None], Cursor]) -> Cursor:
        """Replace the cursor at ``key`` with ``step(previous)``; returns the new one."""
        cursor = step(self.load(conn, key))
        self.save(conn, key, cursor)
        return cursor
