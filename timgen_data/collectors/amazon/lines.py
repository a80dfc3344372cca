"""Streaming a gzipped JSON-lines file line by line, in constant memory.

Each line comes with its number and the compressed bytes read so far (for progress:
the file size is known only compressed). A line that does not decode is handed on as
an error, never raised, so one broken line costs one rejection and not the run.
"""

from __future__ import annotations

import ast
import gzip
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    value: dict[str, Any] | None  # the decoded object, None when it did not decode
    error: str | None
    compressed_pos: int  # compressed bytes consumed so far


def decode_line(text: str, *, python_literals: bool = False) -> dict[str, Any]:
    """One line as a dict: JSON, or (2014-style dumps) a Python literal read safely.

    ``ast.literal_eval`` only builds literals; it never runs code, unlike ``eval``.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if not python_literals:
            raise ValueError(f"not JSON: {exc.msg} (column {exc.colno})") from None
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(f"neither JSON nor a Python literal: {exc.msg} (column {exc.colno})") from None
    if not isinstance(value, dict):
        # A bad line is bad input, whatever its type: callers handle every bad line as ValueError.
        raise ValueError(f"expected an object, got {type(value).__name__}")  # noqa: TRY004
    return value


def read_lines(path: Path, *, skip: int = 0, python_literals: bool = False) -> Iterator[Line]:
    """Yield the lines of a gzip (or plain) JSON-lines file; the first ``skip`` are passed over undecoded."""
    path = Path(path)
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
        number = 0
        try:
            for data in stream:
                number += 1
                if number <= skip:
                    continue
                text = data.decode("utf-8", errors="replace").strip()
                if not text:
                    continue
                try:
                    yield Line(number, decode_line(text, python_literals=python_literals), None, raw.tell())
                except ValueError as exc:
                    yield Line(number, None, str(exc), raw.tell())
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # A truncated download: what decompressed so far was used; the rest is one rejection.
            yield Line(number + 1, None, f"compressed stream ends early ({exc}); re-download the file", raw.tell())
