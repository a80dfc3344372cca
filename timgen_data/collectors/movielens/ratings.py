"""Parsing MovieLens rating files into a columnar table.

Rating files are the bulk of every release (up to 32M lines), so the clean case goes
through pyarrow's multithreaded CSV reader. Anything odd in a file (a short line, a
value that does not convert, a rating out of range) sends that file through a
line-by-line reader instead, which names each bad line; clean files never pay for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.errors import MalformedInputError

RATINGS_SCHEMA = pa.schema(
    [("user", pa.string()), ("item", pa.string()), ("rating", pa.float64()), ("ts", pa.int64())]
)
# MovieLens ratings run 0.5–5 stars; timestamps must be after the epoch and before 2100.
RATING_RANGE = (0.5, 5.0)
TS_RANGE = (1, 4_102_444_800)
_FIELD_NAMES = ("user id", "item id", "rating", "timestamp")


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


def parse_ratings(path: Path, *, strict: bool = False) -> tuple[pa.Table, Rejections]:
    """Parse one ratings file; returns (table with RATINGS_SCHEMA, rejections).

    In ``strict`` mode the first bad line raises ``MalformedInputError``; so does a file
    with no rating at all (empty, or every line rejected): a release without ratings is
    damaged, never a complete collect of nothing.
    """
    fmt = ratings_format(path)
    data = path.read_bytes()
    if fmt.double_colon:
        # pyarrow takes one-character delimiters; ids and numbers never contain tabs.
        data = data.replace(b"::", b"\t")
    table = _fast_parse(data, fmt)
    if table is not None and table.num_rows and _all_valid(table):
        return table, Rejections()
    table, rejections = _careful_parse(data, fmt, path.name, strict=strict)
    if table.num_rows == 0:
        what = (f"none of its lines is a rating ({rejections.count:,} rejected; the first: {rejections.kept[0]})"
                if rejections.count else "it holds no ratings")
        raise MalformedInputError(f"{path} is unusable: {what}; check the file, or fetch the release again "
                                  "(collect movielens --force, without --from-file). Nothing was stored.")
    return table, rejections


def duplicate_count(ratings: pa.Table) -> int:
    """Ratings that repeat an earlier one's (user, item, time): the store keeps the first of each."""
    if ratings.num_rows == 0:
        return 0
    return ratings.num_rows - ratings.group_by(["user", "item", "ts"]).aggregate([]).num_rows


def _fast_parse(data: bytes, fmt: RatingsFormat) -> pa.Table | None:
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
                column_names=names, skip_rows=1 if fmt.header else 0, block_size=1 << 24
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


def _careful_parse(data: bytes, fmt: RatingsFormat, file_name: str, *, strict: bool) -> tuple[pa.Table, Rejections]:
    rejections = Rejections()
    columns: tuple[list, list, list, list] = ([], [], [], [])
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if fmt.header and number == 1:
            continue
        if not raw.strip():
            continue
        problem = _undecodable(raw, fmt.delimiter)
        result = problem if problem is not None else _check_row(raw.decode("utf-8").split(fmt.delimiter))
        if isinstance(result, str):
            rejection = Rejection(file_name, number, result)
            if strict:
                raise MalformedInputError(f"{rejection} (re-run without --strict to skip bad lines)")
            rejections.add(rejection)
            continue
        for column, value in zip(columns, result):
            column.append(value)
    table = pa.table(dict(zip(RATINGS_SCHEMA.names, columns)), schema=RATINGS_SCHEMA)
    return table, rejections
