"""Parsing MovieLens rating files into columnar tables, one block of lines at a time.

Rating files are the bulk of every release (up to 32M lines), so they are read in blocks
of whole lines whose size does not depend on the file, and the clean case goes through
pyarrow's multithreaded CSV reader. Anything odd in a file (a short line, a value that
does not convert, a rating out of range) sends that file through a line-by-line reader
instead, which names each bad line; clean files never pay for it.

Which of the two readings a file gets is decided for the whole file, as it always was:
the line-by-line reader trims spaces around ids and rejects a blank one, which the
columnar reader keeps, so a block must read the same whatever the other blocks hold.
:func:`check_ratings` makes that decision in a first pass; :func:`read_ratings` reads
the file again the same way for storing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from timgen_data.collectors.json_lines import MAX_LINE_BYTES
from timgen_data.collectors.line_blocks import BLOCK_BYTES, LineBlock, read_line_blocks
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.errors import MalformedInputError

RATINGS_SCHEMA = pa.schema(
    [("user", pa.string()), ("item", pa.string()), ("rating", pa.float64()), ("ts", pa.int64())]
)
# MovieLens ratings run 0.5–5 stars; timestamps must be after the epoch and before 2100.
RATING_RANGE = (0.5, 5.0)
TS_RANGE = (1, 4_102_444_800)
_FIELD_NAMES = ("user id", "item id", "rating", "timestamp")
# Ids the line-by-line reader leaves as they are (printable ASCII, no space): a block whose
# ids all look so, and that has no carriage return, reads the same both ways.
_PLAIN_ID = "^[!-~]+$"


@dataclass(frozen=True)
class RatingsFormat:
    delimiter: str  # after "::" is rewritten to a tab
    header: bool
    double_colon: bool = False


def ratings_format(path: Path) -> RatingsFormat:
    if path.suffix == ".csv":
        return RatingsFormat(",", header=True)
    if path.suffix == ".dat":
        return RatingsFormat("\t", header=False, double_colon=True)
    return RatingsFormat("\t", header=False)  # u.data


@dataclass
class RatingsCheck:
    """What a first pass over a ratings file found."""

    rows: int = 0  # ratings that parse (rejected lines left out)
    rejections: Rejections = field(default_factory=Rejections)
    careful: bool = False  # read line by line: some line is bad
    # Distinct ids in the order they first appear (a dict keeps order): one entry per user or item.
    users: dict[str, None] = field(default_factory=dict)
    items: dict[str, None] = field(default_factory=dict)


def check_ratings(path: Path, *, strict: bool = False, block_bytes: int = BLOCK_BYTES) -> RatingsCheck:
    """Read a ratings file once, holding one block at a time: its ratings, rejections and ids.

    In ``strict`` mode the first bad line raises ``MalformedInputError``; so does a file
    with no rating at all (empty, or every line rejected): a release without ratings is
    damaged, never a complete collect of nothing.
    """
    path = Path(path)
    check = _check(path, careful=False, strict=strict, block_bytes=block_bytes)
    if check is None:
        check = _check(path, careful=True, strict=strict, block_bytes=block_bytes)
    if check.rows == 0:
        rejections = check.rejections
        what = (f"none of its lines is a rating ({rejections.count:,} rejected; the first: {rejections.kept[0]})"
                if rejections.count else "it holds no ratings")
        raise MalformedInputError(f"{path} is unusable: {what}; check the file, or fetch the release again "
                                  "(collect movielens --force, without --from-file). Nothing was stored.")
    return check


def read_ratings(path: Path, *, careful: bool, block_bytes: int = BLOCK_BYTES) -> Iterator[pa.Table]:
    """The file's ratings (``RATINGS_SCHEMA``, in file order), one table per block, read the way
    :func:`check_ratings` said (``careful``); rejected lines are left out."""
    path = Path(path)
    fmt = ratings_format(path)
    for block in read_line_blocks(path, block_bytes=block_bytes):
        table, _plain = _parse_block(block, fmt, path.name, careful=careful, strict=False, rejections=Rejections())
        if table is None:
            raise MalformedInputError(f"{path} changed while it was read (a line that parsed before no longer "
                                      "does); collect again. What was stored so far stays.")
        yield table


def parse_ratings(path: Path, *, strict: bool = False, block_bytes: int = BLOCK_BYTES) -> tuple[pa.Table, Rejections]:
    """The whole ratings file as one table, with its rejections: for small files, tests and
    benchmarks (``collect`` streams with :func:`check_ratings` and :func:`read_ratings`)."""
    check = check_ratings(path, strict=strict, block_bytes=block_bytes)
    tables = list(read_ratings(path, careful=check.careful, block_bytes=block_bytes))
    return pa.concat_tables(tables).combine_chunks(), check.rejections


def _check(path: Path, *, careful: bool, strict: bool, block_bytes: int) -> RatingsCheck | None:
    """One pass; None when a bad line turns up after a block that may read otherwise line by line."""
    fmt = ratings_format(path)
    check = RatingsCheck(careful=careful)
    all_plain = True
    for block in read_line_blocks(path, block_bytes=block_bytes):
        table, plain = _parse_block(block, fmt, path.name, careful=check.careful, strict=strict,
                                    rejections=check.rejections)
        if table is None:
            if not all_plain:
                return None  # start again, reading line by line from the first block
            # Every earlier block reads the same line by line: go on from here.
            check.careful = True
            table, plain = _parse_block(block, fmt, path.name, careful=True, strict=strict,
                                        rejections=check.rejections)
        all_plain = all_plain and plain
        check.rows += table.num_rows
        check.users.update(dict.fromkeys(pc.unique(table["user"]).to_pylist()))
        check.items.update(dict.fromkeys(pc.unique(table["item"]).to_pylist()))
    return check


def _parse_block(block: LineBlock, fmt: RatingsFormat, file_name: str, *, careful: bool, strict: bool,
                 rejections: Rejections) -> tuple[pa.Table | None, bool]:
    """The block's ratings and whether both readings agree on it; None when not ``careful``
    and the block has a bad line."""
    if block.data is None:
        if not careful:
            return None, False
        _reject(Rejection(file_name, block.first_line, f"longer than {MAX_LINE_BYTES:,} bytes"), strict, rejections)
        return pa.table({n: [] for n in RATINGS_SCHEMA.names}, schema=RATINGS_SCHEMA), False
    data = block.data.replace(b"::", b"\t") if fmt.double_colon else block.data
    table = _fast_parse(data, fmt, skip_header=fmt.header and block.first_line == 1)
    if table is not None and _all_valid(table):
        plain = b"\r" not in data and _plain_ids(table)
        if plain or not careful:
            return table, plain
    if not careful:
        return None, False
    return _careful_parse(data, block.first_line, fmt, file_name, strict=strict, rejections=rejections), False


def _plain_ids(table: pa.Table) -> bool:
    return all(pc.all(pc.match_substring_regex(table[c], _PLAIN_ID)).as_py() is not False
               for c in ("user", "item"))


def _fast_parse(data: bytes, fmt: RatingsFormat, *, skip_header: bool) -> pa.Table | None:
    saw_invalid = False

    def on_invalid(_row) -> str:
        nonlocal saw_invalid
        saw_invalid = True
        return "skip"

    names = RATINGS_SCHEMA.names
    try:
        table = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(
                column_names=names, skip_rows=1 if skip_header else 0, block_size=1 << 24
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=fmt.delimiter, quote_char=False, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=RATINGS_SCHEMA, strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return None if saw_invalid else table


def _all_valid(table: pa.Table) -> bool:
    if table.num_rows == 0:
        return True
    checks = [
        pc.all(pc.greater(pc.utf8_length(table["user"]), 0)),
        pc.all(pc.greater(pc.utf8_length(table["item"]), 0)),
        pc.all(pc.and_(pc.greater_equal(table["rating"], RATING_RANGE[0]), pc.less_equal(table["rating"], RATING_RANGE[1]))),
        pc.all(pc.and_(pc.greater_equal(table["ts"], TS_RANGE[0]), pc.less(table["ts"], TS_RANGE[1]))),
    ]
    nulls = sum(table[c].null_count for c in table.column_names)
    return nulls == 0 and all(c.as_py() is True for c in checks)


def _check_row(fields: list[str]) -> tuple[str, str, float, int] | str:
    """The parsed row, or the reason it is rejected."""
    if len(fields) != 4:
        return f"expected 4 fields, found {len(fields)}"
    user, item, rating_text, ts_text = (f.strip() for f in fields)
    if not user or not item:
        return "empty user or item id"
    try:
        rating = float(rating_text)
    except ValueError:
        return f"rating {rating_text!r} is not a number"
    if not RATING_RANGE[0] <= rating <= RATING_RANGE[1]:
        return f"rating {rating} outside {RATING_RANGE[0]}–{RATING_RANGE[1]}"
    try:
        ts = int(ts_text)
    except ValueError:
        return f"timestamp {ts_text!r} is not an integer"
    if not TS_RANGE[0] <= ts < TS_RANGE[1]:
        return f"timestamp {ts} out of range"
    return user, item, rating, ts


def _undecodable(raw: bytes, delimiter: str) -> str | None:
    """Why a line's bytes are not text, naming the field; None when they are.

    Replacing bad bytes with U+FFFD would turn different ids into one, so such a line is rejected.
    """
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    for name, field in zip(_FIELD_NAMES, raw.split(delimiter.encode())):
        try:
            field.decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"the {name} holds bytes that are not UTF-8 (0x{field[exc.start]:02x}); fix the file or fetch " \
                   "the release again"
    return "the line holds bytes that are not UTF-8; fix the file or fetch the release again"


def _careful_parse(data: bytes, first_line: int, fmt: RatingsFormat, file_name: str, *, strict: bool,
                   rejections: Rejections) -> pa.Table:
    columns: tuple[list, list, list, list] = ([], [], [], [])
    for number, raw in enumerate(data.split(b"\n"), start=first_line):
        if fmt.header and number == 1:
            continue
        if not raw.strip():
            continue
        problem = _undecodable(raw, fmt.delimiter)
        result = problem if problem is not None else _check_row(raw.decode("utf-8").split(fmt.delimiter))
        if isinstance(result, str):
            _reject(Rejection(file_name, number, result), strict, rejections)
            continue
        for column, value in zip(columns, result):
            column.append(value)
    return pa.table(dict(zip(RATINGS_SCHEMA.names, columns)), schema=RATINGS_SCHEMA)


def _reject(rejection: Rejection, strict: bool, rejections: Rejections) -> None:
    if strict:
        raise MalformedInputError(f"{rejection} (re-run without --strict to skip bad lines)")
    rejections.add(rejection)
