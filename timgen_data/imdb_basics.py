"""IMDb's official ``title.basics.tsv.gz``, streamed row by row.

The file (https://developer.imdb.com/non-commercial-datasets/) is a gzip TSV with
the header ``tconst titleType primaryTitle originalTitle isAdult startYear endYear
runtimeMinutes genres``, ``\\N`` for null and no quoting at all: a title may contain
``"``, so lines are split on tabs, never read with a CSV dialect that quotes.

``collect imdb`` stores its titles and ``align links`` matches MovieLens titles against
them, so the reader stands below both stages. The real file is about 1 GB uncompressed:
``iter_title_basics`` never holds more than one line.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from timgen_data.errors import MalformedInputError

__all__ = ["MOVIE_TYPES", "BasicsReadReport", "ImdbTitle", "iter_title_basics"]

NULL = "\\N"
GZIP_MAGIC = b"\x1f\x8b"
# The columns read; endYear is not needed (films have none) and may be absent.
REQUIRED_COLUMNS = (
    "tconst",
    "titleType",
    "primaryTitle",
    "originalTitle",
    "isAdult",
    "startYear",
    "runtimeMinutes",
    "genres",
)
MOVIE_TYPES = frozenset({"movie", "tvMovie", "short", "video", "tvSpecial"})


@dataclass(frozen=True, slots=True)
class ImdbTitle:
    """One row of title.basics, nulls as None."""

    tconst: str
    title_type: str
    primary_title: str
    original_title: str | None
    is_adult: bool
    start_year: int | None
    runtime_minutes: int | None
    genres: tuple[str, ...]


@dataclass
class BasicsReadReport:
    """What ``iter_title_basics`` read: data lines, titles yielded, lines skipped.

    ``skipped_lines`` holds the first ``max_examples`` skipped line numbers (1-based,
    the header is line 1) so a damaged file can be inspected without logging it all.
    """

    lines: int = 0
    titles: int = 0
    skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    max_examples: int = 10

    def skip(self, line_number: int) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < self.max_examples:
            self.skipped_lines.append(line_number)


def _optional_int(value: str) -> int | None:
    return None if value == NULL else int(value)


@contextmanager
def _text_lines(source: str | Path | BinaryIO) -> Iterator[Iterator[str]]:
    """Open ``source`` as text lines, decompressing gzip; never closes a caller's stream."""
    with ExitStack() as stack:
        if isinstance(source, (str, Path)):
            raw = stack.enter_context(open(source, "rb"))
        else:
            raw = source
        if isinstance(raw, io.TextIOBase):
            # Already text (a StringIO in a test, say): nothing to decompress.
            yield iter(raw)
            return
        if not hasattr(raw, "peek"):
            buffered = io.BufferedReader(raw)  # type: ignore[arg-type]
            # Detach on exit: closing (or collecting) the wrapper would close ``raw``.
            stack.callback(buffered.detach)
            raw = buffered
        # Sniff rather than trust the name, so a misnamed file still reads.
        if raw.peek(2)[:2] == GZIP_MAGIC:
            # GzipFile.close() leaves a passed-in fileobj open.
            raw = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
        # Only "\n" ends a line: a stray "\r" inside a title must not split it.
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="\n")
        stack.callback(text.detach)
        yield iter(text)


def iter_title_basics(
    source: str | Path | BinaryIO,
    report: BasicsReadReport | None = None,
    *,
    types: frozenset[str] | None = None,
) -> Iterator[ImdbTitle]:
    """Stream the titles of a title.basics file (gzip or plain TSV), line by line.

    ``types``, when given, skips other title types before parsing the rest of the
    line (they are not counted as skipped). A line with the wrong number of fields,
    or a number field that is not a number, is skipped and counted in ``report``.
    A header without a needed column raises ``MalformedInputError``.
    """
    report = report if report is not None else BasicsReadReport()
    with _text_lines(source) as lines:
        header_line = next(lines, None)
        if header_line is None:
            raise MalformedInputError(
                "title.basics file is empty; expected a header line"
            )
        header = header_line.lstrip("\ufeff").rstrip("\r\n").split("\t")
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise MalformedInputError(
                f"title.basics header lacks column(s) {', '.join(missing)}; "
                f"expected {' '.join(REQUIRED_COLUMNS)}"
            )
        width = len(header)
        (
            i_tconst,
            i_type,
            i_primary,
            i_original,
            i_adult,
            i_start,
            i_runtime,
            i_genres,
        ) = (header.index(name) for name in REQUIRED_COLUMNS)
        for number, line in enumerate(lines, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            report.lines += 1
            fields = line.split("\t")
            if len(fields) != width:
                report.skip(number)
                continue
            title_type = fields[i_type]
            if types is not None and title_type not in types:
                continue
            original = fields[i_original]
            genres = fields[i_genres]
            adult = fields[i_adult]
            try:
                start_year = _optional_int(fields[i_start])
                runtime = _optional_int(fields[i_runtime])
            except ValueError:
                report.skip(number)
                continue
            if adult not in ("0", "1", NULL):
                report.skip(number)
                continue
            report.titles += 1
            yield ImdbTitle(
                tconst=fields[i_tconst],
                title_type=title_type,
                primary_title=fields[i_primary],
                original_title=None if original == NULL else original,
                is_adult=adult == "1",
                start_year=start_year,
                runtime_minutes=runtime,
                genres=() if genres in (NULL, "") else tuple(genres.split(",")),
            )
