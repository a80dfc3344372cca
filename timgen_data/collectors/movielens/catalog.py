"""Parsing MovieLens movies, users and links (small files, read line by line)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from timgen_data.collectors.movielens.titles import split_title
from timgen_data.collectors.records import ItemRecord, LinkRecord, UserRecord
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.errors import MalformedInputError

# ML-1M users.dat codes (from the release README).
AGE_GROUPS = {1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+"}
OCCUPATIONS = [
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
]
GENDERS = {"M": "male", "F": "female"}
NO_GENRES = "(no genres listed)"


@dataclass
class Catalog:
    items: list[ItemRecord] = field(default_factory=list)
    users: list[UserRecord] = field(default_factory=list)
    links: list[LinkRecord] = field(default_factory=list)
    rejections: Rejections = field(default_factory=Rejections)


class _LineReader:
    """Iterates a small text file's fields with line numbers, collecting rejections."""

    def __init__(self, path: Path, encoding: str, rejections: Rejections, strict: bool):
        self.path, self.encoding, self.rejections, self.strict = path, encoding, rejections, strict

    def reject(self, line: int, reason: str) -> None:
        rejection = Rejection(self.path.name, line, reason)
        if self.strict:
            raise MalformedInputError(f"{rejection} (re-run without --strict to skip bad lines)")
        self.rejections.add(rejection)

    def split_lines(self, sep: str, expected: int):
        text = _decode(self.path.read_bytes(), self.encoding)
        # Only "\n" ends a line: str.splitlines would also split at U+0085, which latin-1 makes of byte 0x85.
        for number, line in enumerate(text.split("\n"), start=1):
            line = line.removesuffix("\r")
            if not line.strip():
                continue
            fields = line.split(sep)
            if len(fields) != expected:
                self.reject(number, f"expected {expected} fields separated by {sep!r}, found {len(fields)}")
                continue
            yield number, fields

    def csv_rows(self, expected: int):
        text = _decode(self.path.read_bytes(), self.encoding)
        reader = csv.reader(io.StringIO(text, newline=""))
        next(reader, None)  # header
        for fields in reader:
            if not fields:
                continue
            if len(fields) != expected:
                self.reject(reader.line_num, f"expected {expected} columns, found {len(fields)}")
                continue
            yield reader.line_num, fields


def _decode(data: bytes, encoding: str) -> str:
    if encoding != "utf-8":
        return data.decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # ML-10M's movies.dat mixes encodings: each line is read as UTF-8 where it is one, else as
        # latin-1 (which never fails), so one odd line garbles no other title.
        return "\n".join(_line_text(line) for line in data.split(b"\n"))


def _line_text(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _item(external_id: str, raw_title: str, genres: list[str], extra: dict[str, Any]) -> ItemRecord:
    title, year = split_title(raw_title)
    return ItemRecord(external_id, title, year, genres, {"original_title": raw_title, **extra})


def parse_100k_catalog(folder: Path, *, strict: bool = False) -> Catalog:
    """ML-100K: ``u.item`` (latin-1, ``|``, 19 genre flags), ``u.user``, ``u.genre``."""
    catalog = Catalog()
    genre_reader = _LineReader(folder / "u.genre", "latin-1", catalog.rejections, strict)
    genres = [name for _, (name, _index) in genre_reader.split_lines("|", 2)]
    items = _LineReader(folder / "u.item", "latin-1", catalog.rejections, strict)
    for number, fields in items.split_lines("|", 5 + len(genres)):
        flags = fields[5:]
        if any(flag not in ("0", "1") for flag in flags):
            items.reject(number, "genre flags must be 0 or 1")
            continue
        item_genres = [g for g, flag in zip(genres, flags) if flag == "1"]
        extra = {"release_date": fields[2] or None, "video_release_date": fields[3] or None, "imdb_url": fields[4] or None}
        catalog.items.append(_item(fields[0], fields[1], item_genres, extra))
    users = _LineReader(folder / "u.user", "latin-1", catalog.rejections, strict)
    for number, (uid, age, gender, occupation, zip_code) in users.split_lines("|", 5):
        if not age.isdigit() or gender not in GENDERS:
            users.reject(number, f"bad age {age!r} or gender {gender!r}")
            continue
        catalog.users.append(
            UserRecord(uid, {"age": int(age), "gender": GENDERS[gender], "occupation": occupation, "zip": zip_code})
        )
    catalog.items = rarest_genre_primary(catalog.items)
    return catalog


def parse_dat_catalog(folder: Path, *, strict: bool = False) -> Catalog:
    """ML-1M / ML-10M: ``movies.dat`` and (1M only) ``users.dat``, ``::``-separated."""
    catalog = Catalog()
    encoding = "latin-1" if (folder / "users.dat").exists() else "utf-8"
    movies = _LineReader(folder / "movies.dat", encoding, catalog.rejections, strict)
    for _number, (mid, title, genres) in movies.split_lines("::", 3):
        catalog.items.append(_item(mid, title, _genre_list(genres), {}))
    if (folder / "users.dat").exists():
        users = _LineReader(folder / "users.dat", "latin-1", catalog.rejections, strict)
        for number, (uid, gender, age, occupation, zip_code) in users.split_lines("::", 5):
            if gender not in GENDERS or not age.isdigit() or int(age) not in AGE_GROUPS \
                    or not occupation.isdigit() or int(occupation) >= len(OCCUPATIONS):
                users.reject(number, f"bad gender {gender!r}, age code {age!r} or occupation code {occupation!r}")
                continue
            catalog.users.append(UserRecord(uid, {
                "gender": GENDERS[gender],
                "age_group": AGE_GROUPS[int(age)],
                "age_code": int(age),
                "occupation": OCCUPATIONS[int(occupation)],
                "zip": zip_code,
            }))
    catalog.items = rarest_genre_primary(catalog.items)
    return catalog


def parse_csv_catalog(folder: Path, *, strict: bool = False) -> Catalog:
    """ML-20M and newer: ``movies.csv`` and ``links.csv`` in UTF-8 with quoted fields."""
    catalog = Catalog()
    movies = _LineReader(folder / "movies.csv", "utf-8", catalog.rejections, strict)
    for _number, (mid, title, genres) in movies.csv_rows(3):
        catalog.items.append(_item(mid, title, _genre_list(genres), {}))
    if (folder / "links.csv").exists():
        links = _LineReader(folder / "links.csv", "utf-8", catalog.rejections, strict)
        for number, (mid, imdb, tmdb) in links.csv_rows(3):
            if imdb and not imdb.isdigit() or tmdb and not tmdb.isdigit():
                links.reject(number, f"imdbId {imdb!r} / tmdbId {tmdb!r} are not numbers")
                continue
            if imdb:
                # IMDb ids are "tt" plus at least seven digits; links.csv drops the prefix.
                catalog.links.append(LinkRecord(mid, "imdb", f"tt{int(imdb):07d}"))
            if tmdb:
                catalog.links.append(LinkRecord(mid, "tmdb", str(int(tmdb))))
    catalog.items = rarest_genre_primary(catalog.items)
    return catalog


@dataclass(frozen=True)
class MovieRecord(ItemRecord):
    """A movie whose primary class is chosen by :func:`rarest_genre_primary`, not its first-listed genre."""

    primary: str | None = None

    @property
    def category(self) -> str | None:
        return self.primary


def rarest_genre_primary(items: list[ItemRecord]) -> list[ItemRecord]:
    """Each movie with its rarest genre of the release as its primary class (ties: the one listed first).

    MovieLens lists a movie's genres in the alphabetical order of its genre list, so the
    first-listed one says nothing (Action for every Action movie); the rarest one is the most
    specific (Toy Story: Animation rather than Children's or Comedy; a Film-Noir thriller:
    Film-Noir). Counted over the whole release, which a collect reads at once, so the choice
    never depends on what else the store holds. The genre list itself keeps the source's order.

    >>> [i.category for i in rarest_genre_primary([ItemRecord("1", None, None, ["Action", "War"], {}),
    ...                                            ItemRecord("2", None, None, ["Action"], {})])]
    ['War', 'Action']
    """
    counts = Counter(g for item in items for g in set(item.categories))
    return [MovieRecord(**{f.name: getattr(item, f.name) for f in fields(item)},
                        primary=min(item.categories, key=lambda g: counts[g])) if item.categories else item
            for item in items]


def _genre_list(genres: str) -> list[str]:
    genres = genres.strip()
    if not genres or genres == NO_GENRES:
        return []
    return [g for g in genres.split("|") if g]
