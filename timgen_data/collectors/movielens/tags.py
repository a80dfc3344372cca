"""Reading MovieLens tag files: words a user attached to a movie, with the time.

``tags.csv`` (ML-20M and newer: ``userId,movieId,tag,timestamp``, a header, quoted fields)
and ``tags.dat`` (ML-10M: ``UserID::MovieID::Tag::Timestamp``, no header). ML-100K and
ML-1M have none. Files are read a line at a time, so memory does not grow with them (ML-32M
has two million tags); a bad line is rejected with its number like a bad rating.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from timgen_data.collectors.movielens.ratings import TS_RANGE
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.errors import MalformedInputError

# The tag file each layout ships, where it ships one.
TAG_FILES = {"csv": "tags.csv", "dat": "tags.dat"}


@dataclass(frozen=True)
class Tag:
    user: str
    item: str
    ts: int
    tag: str  # one line of text: line breaks inside a quoted field become spaces


@dataclass
class TagsCheck:
    """What a first pass over a tag file found."""

    rows: int = 0  # tags that parse (rejected lines left out)
    rejections: Rejections = field(default_factory=Rejections)
    # Distinct ids in the order they first appear: users and movies the catalog may lack.
    users: dict[str, None] = field(default_factory=dict)
    items: dict[str, None] = field(default_factory=dict)


def check_tags(path: Path, *, strict: bool = False) -> TagsCheck:
    """Read a tag file once: how many tags it holds, its rejections and its ids."""
    check = TagsCheck()
    for tag in read_tags(path, rejections=check.rejections, strict=strict):
        check.rows += 1
        check.users[tag.user] = None
        check.items[tag.item] = None
    return check


def read_tags(path: Path, *, rejections: Rejections, strict: bool = False) -> Iterator[Tag]:
    """The file's tags in file order; bad lines go to ``rejections`` (or raise when ``strict``)."""
    path = Path(path)
    with path.open("rb") as raw:
        lines = (_line_text(line) for line in raw)
        rows = _csv_rows(lines) if path.suffix == ".csv" else _dat_rows(lines)
        for number, fields in rows:
            result = _check_row(fields)
            if isinstance(result, str):
                rejection = Rejection(path.name, number, result)
                if strict:
                    raise MalformedInputError(f"{rejection} (re-run without --strict to skip bad lines)")
                rejections.add(rejection)
                continue
            yield result


def _line_text(line: bytes) -> str:
    # As for movies.dat: the 10M files mix encodings, so a line that is not UTF-8 is latin-1.
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _csv_rows(lines: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(lines)
    next(reader, None)  # header
    for fields in reader:
        if fields:
            yield reader.line_num, fields


def _dat_rows(lines: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("::")
        if len(fields) > 4:  # "::" inside the tag itself: ids first, the time last
            fields = [fields[0], fields[1], "::".join(fields[2:-1]), fields[-1]]
        yield number, fields


def _check_row(fields: list[str]) -> Tag | str:
    """The tag, or the reason its line is rejected."""
    if len(fields) != 4:
        return f"expected 4 fields (user, movie, tag, timestamp), found {len(fields)}"
    user, item, text, ts_text = fields
    user, item = user.strip(), item.strip()
    if not user or not item:
        return "empty user or movie id"
    tag = text.replace("\r", " ").replace("\n", " ").strip()
    if not tag:
        return "empty tag"
    try:
        ts = int(ts_text)
    except ValueError:
        return f"timestamp {ts_text.strip()!r} is not an integer"
    if not TS_RANGE[0] <= ts < TS_RANGE[1]:
        return f"timestamp {ts} out of range"
    if "\x00" in user + item + tag:
        return "a NUL character, which no store column can keep"
    return Tag(user, item, ts, tag)
