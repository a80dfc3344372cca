"""The GroupLens MovieLens-YouTube trailer file (``ml-youtube.csv``), checked line by line.

The file maps YouTube ids to MovieLens movies (header ``youtubeId,movieId,title``).
Copies of it passed through spreadsheets, so ids arrive as ``#NAME?``, formulas or
numbers in scientific notation; some ids are given for several movies, and some
titles name a different film than the movie id does. Every such line is rejected
with a reason in plain words; only lines that survive every check become links.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from timgen_data.alignment.titles import TitleKey, match_confidence, normalize_title
from timgen_data.errors import MalformedInputError

__all__ = [
    "HEADER",
    "TrailerImport",
    "TrailerRejection",
    "read_trailer_file",
    "youtube_id_problem",
]

HEADER = ("youtubeId", "movieId", "title")
# YouTube video ids: 11 characters of the URL-safe base64 alphabet.
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
# How a spreadsheet shows a long digit string it took for a number: "1.00E+10".
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]\d+$")
_FORMULA_START = ("=", "+", "-", "@")
MIN_TITLE_CONFIDENCE = 0.9


@dataclass(frozen=True)
class TrailerRejection:
    """One line not linked: its line number (header is line 1) and why."""

    line: int
    youtube_id: str
    movie_id: str
    reason: str


@dataclass
class TrailerImport:
    """Links (movie_id, youtube_id) in file order, deduplicated; rejected lines; data lines read."""

    links: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[TrailerRejection] = field(default_factory=list)
    lines: int = 0


def youtube_id_problem(youtube_id: str) -> str | None:
    """Why ``youtube_id`` is not a usable YouTube id, or None when it is one.

    A well-shaped id is accepted even when it starts with "-": real ids do (one in
    64), so a leading "-" only means formula damage when the id is malformed anyway.
    """
    if _YOUTUBE_ID.match(youtube_id):
        return None
    if not youtube_id:
        return "missing YouTube id"
    if youtube_id.startswith("#"):
        # Spreadsheet error values: #NAME?, #VALUE!, #REF!, #N/A ...
        return f"spreadsheet-damaged id {youtube_id!r}"
    if _SCIENTIFIC.match(youtube_id):
        return f"spreadsheet-damaged id {youtube_id!r} (number in scientific notation)"
    if youtube_id.startswith(_FORMULA_START):
        return f"spreadsheet-damaged id {youtube_id!r} (starts like a formula)"
    return (
        f"not a YouTube id {youtube_id!r} (expected 11 characters from A-Z a-z 0-9 _ -)"
    )


def read_trailer_file(
    source: str | Path | TextIO,
    movie_titles: Mapping[str, str],
    *,
    min_confidence: float = MIN_TITLE_CONFIDENCE,
) -> TrailerImport:
    """Read ml-youtube.csv, checking each line against ``movie_titles``.

    ``movie_titles`` maps MovieLens movieId to its raw title ("Toy Story (1995)").
    A line is rejected when its id is damaged or not YouTube-shaped, its movie is
    unknown, its title does not match the movie's (``match_confidence`` below
    ``min_confidence``, alternates included), or its id is also given for another
    movie (then every line of that id is rejected). Identical (id, movie) lines
    collapse into one link. A wrong header raises ``MalformedInputError``.
    """
    result = TrailerImport()
    # Per line, after the per-line checks: (line, id, movie, reason or None).
    checked: list[tuple[int, str, str, str | None]] = []
    movies_of_id: dict[str, set[str]] = {}
    movie_keys: dict[str, TitleKey] = {}
    with ExitStack() as stack:
        if isinstance(source, (str, Path)):
            handle = stack.enter_context(open(source, encoding="utf-8-sig", newline=""))
        else:
            handle = source
        reader = csv.reader(handle)
        header = next(reader, None)
        if (
            header is None
            or tuple(cell.strip().lstrip("\ufeff") for cell in header) != HEADER
        ):
            found = "an empty file" if header is None else repr(",".join(header))
            raise MalformedInputError(
                f"trailer file header must be {','.join(HEADER)!r}, found {found}"
            )
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            result.lines += 1
            line = reader.line_num
            if len(row) != len(HEADER):
                youtube_id = row[0].strip()
                movie_id = row[1].strip() if len(row) > 1 else ""
                checked.append(
                    (line, youtube_id, movie_id, f"expected 3 fields, found {len(row)}")
                )
                continue
            youtube_id, movie_id, title = (cell.strip() for cell in row)
            reason = youtube_id_problem(youtube_id)
            if reason is None:
                # Every well-formed id counts toward "one id on several movies", even on
                # lines rejected below: the file then disagrees with itself about it.
                movies_of_id.setdefault(youtube_id, set()).add(movie_id)
                reason = _movie_problem(
                    movie_id, title, movie_titles, movie_keys, min_confidence
                )
            checked.append((line, youtube_id, movie_id, reason))

    linked: set[tuple[str, str]] = set()
    for line, youtube_id, movie_id, reason in checked:
        if reason is None:
            others = movies_of_id[youtube_id] - {movie_id}
            if others:
                reason = f"YouTube id {youtube_id!r} is also given for movie(s) {', '.join(sorted(others, key=_id_order))}"
        if reason is not None:
            result.rejected.append(TrailerRejection(line, youtube_id, movie_id, reason))
            continue
        link = (movie_id, youtube_id)
        if link not in linked:
            linked.add(link)
            result.links.append(link)
    return result


def _id_order(movie_id: str) -> tuple[int, str]:
    """Numeric ids in numeric order ("2" before "10") without parsing them."""
    return (len(movie_id), movie_id)


def _movie_problem(
    movie_id: str,
    title: str,
    movie_titles: Mapping[str, str],
    movie_keys: dict[str, TitleKey],
    min_confidence: float,
) -> str | None:
    """Why the line's movie or title is wrong, or None; caches each movie's key."""
    if not movie_id:
        return "missing movieId"
    raw = movie_titles.get(movie_id)
    if raw is None:
        return f"unknown movie {movie_id!r}"
    key = movie_keys.get(movie_id)
    if key is None:
        key = movie_keys[movie_id] = normalize_title(raw)
    if match_confidence(normalize_title(title), key) < min_confidence:
        return f"title {title!r} does not match movie {movie_id}'s title {raw!r}"
    return None
