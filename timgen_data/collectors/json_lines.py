"""Reading JSON lines where one bad line costs that line only.

Every line-oriented reader goes through here: data files (Amazon reviews, event logs in
JSON lines) and the raw files live runs append and ``--load`` replays. A line that
cannot be used (not UTF-8, not JSON, nested deeper than any real record, too long to
hold, not an object) becomes an :class:`UnreadableLine` with a short reason, never an
exception that ends the read, so the caller rejects it with its number and goes on.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

# Far above any real record (API responses nest under ten levels); far below where
# Python's own recursion limit would end the read instead of the line.
MAX_DEPTH = 100
# A line is held in memory whole: anything longer is passed over unread, never loaded.
MAX_LINE_BYTES = 64 << 20
_BOM = b"\xef\xbb\xbf"


class UnreadableLine(ValueError):
    """One line that is not a usable JSON object; ``str()`` is the reason, e.g. ``not JSON: ...``."""


@dataclass(frozen=True)
class JsonLine:
    number: int  # 1-based, counting every line of the file
    value: dict[str, Any] | None  # the decoded object; None when the line is unreadable
    error: str | None  # why it is unreadable


def decode_json_line(line: bytes | str, *, python_literals: bool = False) -> dict[str, Any]:
    """One line as a dict, or :class:`UnreadableLine` with the reason, whatever is wrong with it.

    With ``python_literals`` a line that is not JSON may be a Python literal (2014-style
    dumps), read with ``ast.literal_eval``, which builds literals and never runs code.

    >>> decode_json_line(b'{"user": "u1"}')
    {'user': 'u1'}
    >>> try:
    ...     decode_json_line("[" * 100_000 + "]" * 100_000)
    ... except UnreadableLine as exc:
    ...     print(exc)
    nested deeper than 100 levels
    """
    if isinstance(line, bytes):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UnreadableLine(f"not UTF-8 text (byte 0x{line[exc.start]:02x} at column {exc.start + 1})") from None
    else:
        text = line
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if not python_literals:
            raise UnreadableLine(f"not JSON: {exc.msg} (column {exc.colno})") from None
        value = _python_literal(text, f"{exc.msg} (column {exc.colno})")
    except RecursionError:
        raise UnreadableLine(f"nested deeper than {MAX_DEPTH} levels") from None
    except MemoryError:
        raise UnreadableLine("too large to read") from None
    except ValueError as exc:  # e.g. a number longer than the interpreter converts
        raise UnreadableLine(f"not JSON: {_first_clause(exc)}") from None
    if not isinstance(value, dict):
        raise UnreadableLine(f"a JSON {_json_type(value)}, not an object")
    # Counting brackets is C-fast; only a line with many of them is walked.
    if text.count("[") + text.count("{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise UnreadableLine(f"nested deeper than {MAX_DEPTH} levels")
    return value


def iter_lines(stream: BinaryIO, *, skip: int = 0,
               max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """``(number, bytes)`` of every line of a binary stream after the first ``skip``.

    A line longer than ``max_bytes`` comes as ``(number, None)``: its bytes are read past,
    never held. A UTF-8 byte order mark opening the stream is dropped.
    """
    number = 0
    while data := stream.readline(max_bytes + 1):
        number += 1
        too_long = len(data) > max_bytes
        while too_long and data and not data.endswith(b"\n"):
            data = stream.readline(max_bytes + 1)  # the rest of the line, dropped as read
        if number <= skip:
            continue
        if too_long:
            yield number, None
            continue
        if number == 1 and data.startswith(_BOM):
            data = data[len(_BOM):]
        yield number, data


def read_json_lines(stream: BinaryIO, *, skip: int = 0, python_literals: bool = False,
                    max_bytes: int = MAX_LINE_BYTES) -> Iterator[JsonLine]:
    """Every non-blank line of a binary stream after the first ``skip``, decoded or with why it is not.

    >>> import io
    >>> [(l.number, l.value, l.error) for l in read_json_lines(io.BytesIO(b'{"a": 1}\\n\\n[2]\\n'))]
    [(1, {'a': 1}, None), (3, None, 'a JSON array, not an object')]
    """
    for number, data in iter_lines(stream, skip=skip, max_bytes=max_bytes):
        if data is None:
            yield JsonLine(number, None, f"longer than {max_bytes:,} bytes")
            continue
        if not data.strip():
            continue
        try:
            value, error = decode_json_line(data, python_literals=python_literals), None
        except UnreadableLine as exc:
            value, error = None, str(exc)
        yield JsonLine(number, value, error)


def read_json_file(path: Path) -> Iterator[JsonLine]:
    """:func:`read_json_lines` of a plain (uncompressed) file."""
    with Path(path).open("rb") as handle:
        yield from read_json_lines(handle)


def complete_lines(path: Path) -> int:
    """The number of lines in ``path``, after ending a last line a killed writer left half-written.

    Appending to such a file would glue the next record onto the fragment, losing both;
    ended, the fragment stays one unreadable line and the next record starts its own.
    """
    if not path.exists():
        return 0
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":
        with path.open("ab") as handle:
            handle.write(b"\n")
        lines += 1
    return lines


def _python_literal(text: str, json_error: str) -> Any:
    try:
        value = ast.literal_eval(text.strip())
        # Through JSON and back: tuples become lists, and sets, bytes or complex numbers
        # (which nothing downstream can store) make the line unreadable here, not later.
        return json.loads(json.dumps(value))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise UnreadableLine(f"neither JSON nor a Python literal: {json_error}") from None


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _first_clause(exc: Exception) -> str:
    return str(exc).split(";")[0][:120]
