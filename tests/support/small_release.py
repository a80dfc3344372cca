"""A small MovieLens release (the ``10m`` layout) made in the test, and what a store holds.

Download and archive tests serve it from a loopback server as ``/ml-10m.zip``, so
``collect movielens --variant 10m --base-url URL`` runs end to end in well under a second.
"""

from __future__ import annotations

import io
import random
import sqlite3
import zipfile
from pathlib import Path

VARIANT = "10m"
ARCHIVE = "ml-10m.zip"
FOLDER = "ml-10M100K"
TABLES = ("users", "items", "interactions", "sources")


def small_release(ratings: int = 2_000, *, seed: int = 7) -> bytes:
    """A zip of ``FOLDER/movies.dat`` and ``FOLDER/ratings.dat`` with ``ratings`` random, unique ratings."""
    rng = random.Random(seed)
    movies = "".join(f"{m}::Movie {m} ({1950 + m % 70})::Drama|Comedy\n" for m in range(1, 201))
    lines = [f"{n // 200 + 1}::{n % 200 + 1}::{rng.randint(1, 5)}::{978_300_000 + rng.randrange(10**8)}\n"
             for n in range(ratings)]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{FOLDER}/", b"")
        zf.writestr(f"{FOLDER}/movies.dat", movies)
        zf.writestr(f"{FOLDER}/ratings.dat", "".join(lines))
    return buffer.getvalue()


def unpacked_size(data: bytes) -> int:
    """What the zip ``data`` unpacks to."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return sum(info.file_size for info in zf.infolist())


def stored_rows(db_file: Path) -> dict[str, int]:
    """Row counts of the main tables of a SQLite store (all zero when the file has none)."""
    if not Path(db_file).exists():
        return dict.fromkeys(TABLES, 0)
    with sqlite3.connect(db_file) as conn:
        present = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] if table in present else 0
                for table in TABLES}


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) by relative name, with its bytes."""
    folder = Path(folder)
    if not folder.exists():
        return {}
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
