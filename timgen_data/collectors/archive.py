"""What every archive source shares: a file downloaded or given, read in one resumable pass.

An archive source (MovieLens, Amazon Reviews, IMDb's dumps, a platform's event logs) takes
a published file, or one the user already has, streams its rows and stores them in chunks.
Each chunk commits in one transaction with the position the pass has reached, so a killed
run re-run resumes after the last chunk committed, and a finished one re-run adds nothing.
API and crawl sources page through requests instead: see :mod:`timgen_data.collectors.api`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection

from timgen_common.progress import SILENT, Progress
from timgen_data.downloads.checksums import file_digests
from timgen_data.downloads.download import download
from timgen_data.errors import UsageError
from timgen_data.store import Store, load_cursor, save_cursor

T = TypeVar("T")
Position = dict[str, Any]


@dataclass(frozen=True)
class LocalFile:
    """A source file on disk: where it came from (None: the user gave it) and its digests."""

    path: Path
    url: str | None
    sha256: str
    md5: str


def obtain_file(url: str, dest: Path, *, local: Path | None, force: bool, progress: Progress = SILENT,
                option: str = "--from-file") -> LocalFile:
    """The file at ``local`` when given, else ``url`` downloaded (resuming a partial copy) to ``dest``."""
    if local is not None:
        if not local.is_file():
            raise UsageError(f"{local} does not exist; give the release's file, or a folder holding it, to {option}")
        sha256, md5 = file_digests(local)
        return LocalFile(local, None, sha256, md5)
    result = download(url, dest, force=force, progress=progress)
    return LocalFile(result.path, url, result.sha256, result.md5)


class ResumablePass:
    """One pass over one input, committed chunk by chunk with the position reached.

    ``position`` is what the last committed chunk left (None: nothing yet, or ``force``);
    its keys are the source's own (lines done, rows done, a byte offset ...), since stores
    written by earlier runs hold them.

    >>> done = ResumablePass(store, "amazon", key)                   # doctest: +SKIP
    >>> done.commit({"lines_done": 5000}, lambda conn: save(conn, chunk))  # doctest: +SKIP
    """

    def __init__(self, store: Store, collector: str, key: str, *, force: bool = False) -> None:
        self.store, self.collector, self.key = store, collector, key
        with store.begin() as conn:
            self.position: Position | None = None if force else load_cursor(conn, collector, key)

    def get(self, name: str, default: Any = None) -> Any:
        """One value of the position reached (``default`` before the first commit)."""
        return default if self.position is None else self.position.get(name, default)

    @property
    def complete(self) -> bool:
        return bool(self.get("complete", False))

    def commit(self, position: Position, save: Callable[[Connection], T] | None = None) -> T | None:
        """Store a chunk (``save``) and the position it reaches in one transaction: a kill leaves both or neither."""
        with self.store.begin() as conn:
            result = save(conn) if save is not None else None
            save_cursor(conn, self.collector, self.key, position)
        self.position = position
        return result
