"""Streaming a log file (CSV, JSON lines or Parquet; gzip or zstd allowed) in batches of raw values.

Only I/O and shape live here: each batch is a frame with one column per mapped field
(named by our field), the values as the file wrote them, plus where each row came from
(line numbers for text files, row numbers for Parquet) so every error can point at it.
Reading never holds more than one batch, whatever the file's size.

Delimited text may lack a header (``names`` then lists its columns in order) and may
separate fields by several characters (``::`` in MovieLens-style ``.dat`` files): those
lines are split as written, in blocks of whole lines, since Arrow's CSV parser takes one.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from timgen_data.collectors.json_lines import read_json_lines
from timgen_data.collectors.line_blocks import stream_line_blocks
from timgen_data.errors import MalformedInputError, UsageError

SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".dat": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".json": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
COMPRESSED_SUFFIXES = (".gz", ".gzip", ".zst", ".zstd")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
HEADER_SAMPLE = 1_000  # JSON-lines records whose keys count as the file's columns
_QUOTED_LINE = re.compile(rb'[^\n]*"[^\n]*')
# Fields whose values are names or ids: kept as text exactly as written ("007" stays "007").
TEXT_FIELDS = ("user", "item", "action", "device", "platform", "geo", "category", "title", "text")


@dataclass
class Batch:
    frame: pd.DataFrame  # one column per mapped field, raw values
    positions: np.ndarray  # line (text files) or row (Parquet) number of each frame row
    malformed: list[tuple[int, str]] = field(default_factory=list)  # (position, reason) of unreadable records
    done_bytes: int = 0  # bytes of the file read so far (compressed), for progress
    # JSON lines only: mapped keys no record so far has held (absent keys are how JSON says "none").
    unseen: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Header:
    columns: list[str]
    first_row: dict[str, Any] | None  # the first record, every column, for error messages


def format_from_name(path: Path) -> str | None:
    """The format a file's name says (``.csv.gz`` is csv), or None when it says none."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes = suffixes[:-1]
    return SUFFIXES.get(suffixes[-1]) if suffixes else None


def detect_format(path: Path, declared: str) -> str:
    """``declared`` unless it is "auto"; then the format the name says."""
    if declared != "auto":
        return declared
    fmt = format_from_name(path)
    if fmt is None:
        raise UsageError(f"cannot tell the format of {path} from its name; set format = \"csv\", \"jsonl\" or "
                         "\"parquet\" in the mapping")
    return fmt


def position_word(fmt: str) -> str:
    return "row" if fmt == "parquet" else "line"


def read_header(path: Path, fmt: str, delimiter: str, *, names: list[str] | None = None,
                encoding: str = "utf-8") -> Header:
    """The file's column names and its first record.

    JSON lines have no header and leave out keys whose value is missing, so their columns
    are the keys seen in the first ``HEADER_SAMPLE`` records. Delimited text without a
    header has the columns ``names`` lists.
    """
    if fmt == "parquet":
        parquet = pq.ParquetFile(path)
        columns = parquet.schema_arrow.names
        first = None
        for batch in parquet.iter_batches(batch_size=1):
            first = {k: shown(v) for k, v in batch.to_pylist()[0].items()}
            break
        return Header(columns, first)
    if fmt == "csv":
        with _open_text(path, encoding) as (text, _):
            if len(delimiter) > 1:
                lines = (line.rstrip("\r\n").split(delimiter) for line in text)
            else:
                lines = csv.reader(text, delimiter=delimiter)
            columns = list(names) if names is not None else next(lines, [])
            row = next(lines, None)
            first = dict(zip(columns, row)) if row is not None else None
            return Header(columns, first)
    keys: dict[str, None] = {}
    first, seen = None, 0
    with _open_binary(path) as (binary, _):
        for line in read_json_lines(binary):
            if line.value is None:
                continue  # reported with its line number when the file is read
            first = first if first is not None else line.value
            keys.update(dict.fromkeys(line.value))
            seen += 1
            if seen >= HEADER_SAMPLE:
                break
    return Header(list(keys), first)


def headerless_hint(header: Header, wanted: list[str], names: list[str] | None, key: str) -> str:
    """What to change when a file without a header was read as having one: its first line then
    names none of the columns asked for, and reads as data (numbers)."""
    if names is not None or any(column in header.columns for column in wanted) or not header.columns:
        return ""
    if not any(_is_number(value) for value in header.columns):
        return ""
    used = ", ".join(map(repr, dict.fromkeys(wanted)))
    return (f" (its first line reads as data, not a header: if the file has no header, add {key} = [...] listing "
            f"its {len(header.columns)} columns in the file's order, the mapping's {used} among them)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_batches(path: Path, fmt: str, columns: dict[str, str], *, delimiter: str = ",",
                 names: list[str] | None = None, encoding: str = "utf-8",
                 batch_rows: int = 50_000) -> Iterator[Batch]:
    """Batches of ``columns`` (our field → the file's column) from ``path``.

    A CSV file whose quoted values never span lines has one record per line, so Arrow's
    parser reads it at C speed with exact line numbers; one where they do goes through
    Python's csv module, which counts physical lines. A delimiter of several characters
    knows no quoting: each line is split where it occurs.
    """
    if fmt == "parquet":
        yield from _parquet_batches(path, columns, batch_rows)
    elif fmt == "csv" and len(delimiter) > 1:
        yield from _split_batches(path, columns, delimiter, names, encoding, batch_rows)
    elif fmt == "csv" and _values_span_lines(path):
        yield from _csv_batches(path, columns, delimiter, names, encoding, batch_rows)
    elif fmt == "csv":
        yield from _arrow_csv_batches(path, columns, delimiter, names, encoding, batch_rows)
    else:
        yield from _jsonl_batches(path, columns, batch_rows)


def _parquet_batches(path: Path, columns: dict[str, str], batch_rows: int) -> Iterator[Batch]:
    parquet = pq.ParquetFile(path)
    wanted = list(dict.fromkeys(columns.values()))
    row = 0
    total = max(parquet.metadata.num_rows, 1)
    size = Path(path).stat().st_size
    for record_batch in parquet.iter_batches(batch_size=batch_rows, columns=wanted):
        frame = arrow_frame(record_batch, columns)
        positions = np.arange(row + 1, row + len(frame) + 1)
        row += len(frame)
        yield Batch(frame, positions, done_bytes=int(size * row / total))


def arrow_frame(record_batch: pa.RecordBatch, columns: dict[str, str]) -> pd.DataFrame:
    """A typed (Parquet) batch's mapped columns as raw values named by our fields; ids and names as text.

    Shared with the Spark engine, whose executors hand the same Arrow columns to the same conversion.
    """
    data = {}
    for ours, theirs in columns.items():
        array = record_batch.column(theirs)
        if ours in TEXT_FIELDS and not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
            array = _as_text(array)
        data[ours] = array.to_pandas()
    return pd.DataFrame(data)


def _as_text(array: pa.Array) -> pa.Array:
    """Ids stored as numbers become their text ("7", never "7.0"); other types cast as Arrow writes them."""
    if pa.types.is_floating(array.type):
        values = array.to_pylist()
        return pa.array([None if v is None else _text(v) for v in values], type=pa.string())
    return array.cast(pa.string())


def _csv_batches(path: Path, columns: dict[str, str], delimiter: str, names: list[str] | None, encoding: str,
                 batch_rows: int) -> Iterator[Batch]:
    with _open_text(path, encoding) as (text, raw):
        reader = csv.reader(text, delimiter=delimiter)
        header = list(names) if names is not None else next(reader, [])
        index = {name: i for i, name in enumerate(header)}
        picks = [(ours, index[theirs]) for ours, theirs in columns.items()]
        width = len(header)
        source = _width_source(names)
        rows: list[list[str | None]] = []
        positions: list[int] = []
        malformed: list[tuple[int, str]] = []
        for record in reader:
            line = reader.line_num
            if not record:
                continue  # a blank line is no record
            if len(record) != width:
                malformed.append((line, f"has {len(record)} fields where {source} {width}"))
            else:
                rows.append([record[i] or None for _, i in picks])
                positions.append(line)
            if len(rows) >= batch_rows:
                yield _text_batch(rows, positions, malformed, [o for o, _ in picks], raw)
                rows, positions, malformed = [], [], []
        if rows or malformed:
            yield _text_batch(rows, positions, malformed, [o for o, _ in picks], raw)


def _arrow_csv_batches(path: Path, columns: dict[str, str], delimiter: str, names: list[str] | None, encoding: str,
                       batch_rows: int) -> Iterator[Batch]:
    wanted = list(dict.fromkeys(columns.values()))
    invalid: dict[int, str] = {}
    source = _width_source(names)

    def on_invalid(row: pacsv.InvalidRow) -> str:
        # The number is known: the reader runs on one thread.
        invalid[int(row.number)] = f"has {row.actual_columns} fields where {source} {row.expected_columns}"
        return "skip"

    with open(path, "rb") as file:
        raw = _CountingReader(file)
        buffered = io.BufferedReader(raw, buffer_size=1 << 20)
        try:
            reader = pacsv.open_csv(
                _decompressed(buffered),
                # Arrow transcodes (slowly, in Python) any encoding it does not spell "utf8".
                read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 22, column_names=names,
                                               encoding="utf8" if _is_utf8(encoding) else encoding),
                parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                                 ignore_empty_lines=False),
                convert_options=pacsv.ConvertOptions(include_columns=wanted,
                                                     column_types={c: pa.string() for c in wanted},
                                                     strings_can_be_null=True, quoted_strings_can_be_null=True,
                                                     null_values=[""]),
            )
            next_line = 1 if names is not None else 2  # line 1 is the header, unless names stand for it
            for record_batch in reader:
                frame = pd.DataFrame({ours: _objects(record_batch.column(theirs)) for ours, theirs in columns.items()},
                                     dtype=object)  # no inference: pandas would make Arrow strings again
                positions, next_line = _place_rows(len(frame), next_line, invalid)
                malformed = sorted((line, invalid.pop(line)) for line in [k for k in invalid if k < next_line])
                yield from _slices(frame, positions, malformed, batch_rows, raw.count)
            if invalid:
                yield Batch(pd.DataFrame(columns=list(columns), dtype=object), np.empty(0, dtype=np.int64),
                            sorted(invalid.items()), raw.count)
        except pa.ArrowInvalid as exc:
            raise MalformedInputError(f"{path} cannot be read as CSV: {exc}; check the delimiter, the encoding "
                                      f"(now {encoding}) and the quoting") from None
        except (OSError, EOFError) as exc:  # a truncated or corrupt compressed stream
            raise MalformedInputError(f"{path} cannot be read to its end ({exc}); fetch it again") from None


def _width_source(names: list[str] | None) -> str:
    return "names lists" if names is not None else "the header has"


def _split_batches(path: Path, columns: dict[str, str], delimiter: str, names: list[str] | None, encoding: str,
                   batch_rows: int) -> Iterator[Batch]:
    """Lines split at a delimiter of several characters, one block of whole lines at a time (Arrow's kernels)."""
    source = _width_source(names)
    header = list(names) if names is not None else None
    with _open_binary(path) as (binary, raw):
        for block in stream_line_blocks(binary):
            if block.data is None:
                malformed = [(block.first_line, "is longer than a line can be read")]
                yield Batch(pd.DataFrame(columns=list(columns), dtype=object), np.empty(0, dtype=np.int64), malformed,
                            raw.count)
                continue
            text = _decode(block.data, encoding, path, block.first_line)
            if block.first_line == 1:
                text = text.removeprefix("\ufeff")
            lines = text.split("\n")
            if lines[-1] == "":
                lines.pop()  # the block's last line ends in "\n"
            first_line = block.first_line
            if header is None:
                if not lines:
                    continue
                header, lines, first_line = lines[0].rstrip("\r").split(delimiter), lines[1:], first_line + 1
            frame, positions, malformed = _split_lines(lines, first_line, header, columns, delimiter, source)
            yield from _slices(frame, positions, malformed, batch_rows, raw.count)


def _split_lines(lines: list[str], first_line: int, header: list[str], columns: dict[str, str], delimiter: str,
                 source: str) -> tuple[pd.DataFrame, np.ndarray, list[tuple[int, str]]]:
    width = len(header)
    array = pc.utf8_rtrim(pa.array(lines, type=pa.string()), characters="\r")
    parts = pc.split_pattern(array, pattern=delimiter)
    counts = pc.list_value_length(parts).to_numpy()
    positions = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    blank = pc.utf8_length(array).to_numpy() == 0  # a blank line is no record
    fits = (counts == width) & ~blank
    malformed = [(int(positions[i]), f"has {int(counts[i])} fields where {source} {width}")
                 for i in np.flatnonzero(~fits & ~blank)]
    flat = pc.list_flatten(parts.filter(pa.array(fits)))
    index = {name: i for i, name in enumerate(header)}
    data = {}
    for ours, theirs in columns.items():
        values = flat.take(pa.array(np.arange(index[theirs], len(flat), width, dtype=np.int64)))
        data[ours] = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    frame = pd.DataFrame({ours: _objects(values) for ours, values in data.items()}, columns=list(columns), dtype=object)
    return frame, positions[fits], malformed


def _decode(data: bytes, encoding: str, path: Path, first_line: int) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        raise MalformedInputError(f"{path} line {line} is not {encoding} text ({exc.reason}); set encoding in the "
                                  "mapping (e.g. \"latin-1\") or convert the file") from None


def _values_span_lines(path: Path) -> bool:
    """Whether a quoted value holds a line break: some line then has an odd number of quotes
    (an escaped quote is doubled, so balanced lines never do). One fast pass over the bytes."""
    with open(path, "rb") as file:
        stream = _decompressed(file)
        carry = b""
        try:
            while block := stream.read(1 << 22):
                block = carry + block
                cut = block.rfind(b"\n") + 1
                block, carry = block[:cut], block[cut:]
                # Only lines holding a quote are looked at (found by the regex engine, not a Python loop).
                if b'"' in block and any(line.count(b'"') % 2 for line in _QUOTED_LINE.findall(block)):
                    return True
        except (OSError, EOFError):
            return True  # let the careful reader meet the damage and report it
    return carry.count(b'"') % 2 == 1


def _place_rows(count: int, next_line: int, invalid: dict[int, str]) -> tuple[np.ndarray, int]:
    """Line numbers of ``count`` parsed rows starting at ``next_line``, skipping the lines reported invalid."""
    skipped = np.fromiter((line for line in invalid if line >= next_line), dtype=np.int64)
    candidates = np.arange(next_line, next_line + count + len(skipped), dtype=np.int64)
    positions = candidates[~np.isin(candidates, skipped)][:count]
    return positions, int(positions[-1]) + 1 if count else next_line


def _slices(frame: pd.DataFrame, positions: np.ndarray, malformed: list[tuple[int, str]], batch_rows: int,
            done_bytes: int) -> Iterator[Batch]:
    """``frame`` in batches of at most ``batch_rows``, each malformed line with the batch whose lines hold it."""
    blank = frame.isna().all(axis=1).to_numpy()  # a blank line is no record
    frame, positions = frame[~blank].reset_index(drop=True), positions[~blank]
    starts = list(range(0, len(frame), batch_rows)) or [0]
    for k, start in enumerate(starts):
        last = k == len(starts) - 1
        upper = np.inf if last else positions[starts[k + 1]]
        mine = [m for m in malformed if m[0] < upper]
        malformed = malformed[len(mine):]
        yield Batch(frame.iloc[start:start + batch_rows].reset_index(drop=True), positions[start:start + batch_rows],
                    mine, done_bytes)


def _objects(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return array.to_numpy(zero_copy_only=False).astype(object)


def _jsonl_batches(path: Path, columns: dict[str, str], batch_rows: int) -> Iterator[Batch]:
    fields = list(columns)
    unseen = set(columns.values())
    with _open_binary(path) as (binary, raw):
        rows: list[list[Any]] = []
        positions: list[int] = []
        malformed: list[tuple[int, str]] = []
        for line in read_json_lines(binary):
            record = line.value
            if record is None:
                malformed.append((line.number, f"is {line.error}"))
                continue
            if unseen:
                unseen.difference_update(record.keys())
            rows.append([_json_value(record.get(columns[f]), f) for f in fields])
            positions.append(line.number)
            if len(rows) >= batch_rows:
                yield _text_batch(rows, positions, malformed, fields, raw, frozenset(unseen))
                rows, positions, malformed = [], [], []
        if rows or malformed:
            yield _text_batch(rows, positions, malformed, fields, raw, frozenset(unseen))


def _text_batch(rows: list[list[Any]], positions: list[int], malformed: list[tuple[int, str]], fields: list[str],
                raw: _CountingReader, unseen: frozenset[str] = frozenset()) -> Batch:
    frame = pd.DataFrame(rows, columns=fields, dtype=object)
    return Batch(frame, np.asarray(positions, dtype=np.int64), malformed, raw.count, unseen)


def _json_value(value: Any, field_name: str) -> Any:
    if field_name in TEXT_FIELDS and value is not None and not isinstance(value, (dict, list)):
        return _text(value)
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def shown(value: Any) -> Any:
    """A value as an error message can show it in JSON (missing → null, anything exotic → its text)."""
    if value is None or (isinstance(value, float) and value != value):  # NaN
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def shown_row(row: dict[str, Any] | None) -> str:
    """A record as one line of JSON for an error message."""
    if row is None:
        return "(no rows)"
    return json.dumps({k: shown(v) for k, v in row.items()}, ensure_ascii=False)


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the file itself (compressed when gzip), so progress follows the disk."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.inner.readinto(buffer)
        self.count += n or 0
        return n


def _decompressed(file: BinaryIO) -> BinaryIO:
    """``file``'s bytes, decompressed as its first bytes say (gzip, zstd) whatever its name (it is at its start)."""
    magic = file.peek(4)[:4] if hasattr(file, "peek") else file.read(4)
    if not hasattr(file, "peek"):
        file.seek(0)
    if magic.startswith(_GZIP_MAGIC):
        return gzip.GzipFile(fileobj=file)
    if magic == _ZSTD_MAGIC:
        # Arrow's zstd codec: no package beyond pyarrow. It reads through the Python file, so progress counts.
        return pa.CompressedInputStream(pa.PythonFile(file, mode="r"), "zstd")
    return file


@contextmanager
def _open_binary(path: Path) -> Iterator[tuple[BinaryIO, _CountingReader]]:
    """``path``'s bytes (decompressed when they say gzip or zstd, whatever the name) and the counter of bytes read."""
    with open(path, "rb") as file:
        raw = _CountingReader(file)
        buffered = io.BufferedReader(raw, buffer_size=1 << 20)
        binary = _decompressed(buffered)
        try:
            yield binary, raw
        except (OSError, EOFError) as exc:  # a truncated or corrupt gzip stream
            raise MalformedInputError(f"{path} cannot be read to its end ({exc}); fetch it again") from None


@contextmanager
def _open_text(path: Path, encoding: str = "utf-8") -> Iterator[tuple[io.TextIOBase, _CountingReader]]:
    """``path`` as text (see :func:`_open_binary`), newline-safe for csv."""
    with _open_binary(path) as (binary, raw):
        try:
            yield io.TextIOWrapper(binary, encoding="utf-8-sig" if _is_utf8(encoding) else encoding, newline=""), raw
        except UnicodeDecodeError as exc:
            raise MalformedInputError(f"{path} is not {encoding} text ({exc.reason} at byte {exc.start} of a block); "
                                      "set encoding in the mapping or convert it to UTF-8 first") from None


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"
