"""Parsing IMDb's non-commercial TSV dumps into records (pure apart from reading the file).

``title.basics`` is streamed by ``timgen_data.imdb_basics.iter_title_basics``
(shared with title linking); this module turns its rows into ``ItemRecord``s and
streams ``title.ratings`` (``tconst averageRating numVotes``) the same way: gzip or
plain, ``\\N`` for null, split on tabs only (no quoting), one line at a time so the
real files (millions of lines) never sit in memory.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from timgen_data.collectors.records import ItemRecord
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.errors import MalformedInputError
from timgen_data.imdb_basics import ImdbTitle

NULL = "\\N"
RATINGS_COLUMNS = ("tconst", "averageRating", "numVotes")
RATING_KEYS = ("averageRating", "numVotes")


@dataclass(frozen=True, slots=True)
class RatingRow:
    line: int  # 1-based line in the file (the header is line 1)
    tconst: str
    average: float | None
    votes: int | None


def title_record(title: ImdbTitle) -> ItemRecord:
    """One title.basics row as an item: title, year and genres in columns, the rest in attributes."""
    return ItemRecord(
        external_id=title.tconst,
        title=title.primary_title,
        year=title.start_year,
        categories=list(title.genres),
        attributes={
            "titleType": title.title_type,
            "originalTitle": title.original_title,
            "runtimeMinutes": title.runtime_minutes,
            "isAdult": title.is_adult,
        },
    )


def iter_title_ratings(path: Path, rejections: Rejections, *, start_line: int = 1) -> Iterator[RatingRow]:
    """Stream title.ratings rows after ``start_line``; bad lines go to ``rejections``.

    A header without the needed columns raises ``MalformedInputError``.
    """
    name = Path(path).name
    with _TextLines(path) as lines:
        header_line = next(lines, None)
        if header_line is None:
            raise MalformedInputError(f"{name} is empty; expected the header {' '.join(RATINGS_COLUMNS)}")
        header = header_line.lstrip("\ufeff").rstrip("\r\n").split("\t")
        missing = [c for c in RATINGS_COLUMNS if c not in header]
        if missing:
            raise MalformedInputError(
                f"{name} header lacks column(s) {', '.join(missing)}; expected {' '.join(RATINGS_COLUMNS)}"
            )
        width = len(header)
        i_tconst, i_average, i_votes = (header.index(c) for c in RATINGS_COLUMNS)
        for number, line in enumerate(lines, start=2):
            if number <= start_line:
                continue
            line = line.rstrip("\r\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) != width:
                rejections.add(Rejection(name, number, f"expected {width} tab-separated fields, found {len(fields)}"))
                continue
            try:
                average = None if fields[i_average] == NULL else float(fields[i_average])
                votes = None if fields[i_votes] == NULL else int(fields[i_votes])
            except ValueError:
                rejections.add(Rejection(
                    name, number, f"averageRating {fields[i_average]!r} or numVotes {fields[i_votes]!r} is not a number"
                ))
                continue
            if average is not None and not 1.0 <= average <= 10.0:
                rejections.add(Rejection(name, number, f"averageRating {average} outside 1–10"))
                continue
            yield RatingRow(number, fields[i_tconst], average, votes)


class _TextLines:
    """Text lines of a gzip or plain file; only ``\\n`` ends a line (a stray ``\\r`` may sit in a field)."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __enter__(self) -> Iterator[str]:
        raw = open(self.path, "rb")
        magic = raw.peek(2)[:2]
        self._raw = raw
        stream = gzip.GzipFile(fileobj=raw, mode="rb") if magic == b"\x1f\x8b" else raw
        self._text = io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline="\n")
        return iter(self._text)

    def __exit__(self, *exc) -> None:
        self._text.close()
        self._raw.close()
