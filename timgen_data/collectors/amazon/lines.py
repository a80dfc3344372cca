"""Streaming a gzipped JSON-lines file line by line, in constant memory.

Each line comes with its number and the compressed bytes read so far (for progress:
the file size is known only compressed). A line that does not decode is handed on as
an error, never raised, so one broken line costs one rejection and not the run.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timgen_data.collectors.json_lines import decode_json_line, read_json_lines


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    value: dict[str, Any] | None  # the decoded object, None when it did not decode
    error: str | None
    compressed_pos: int  # compressed bytes consumed so far


def decode_line(text: str | bytes, *, python_literals: bool = False) -> dict[str, Any]:
    """One line as a dict: JSON, or (2014-style dumps) a Python literal read safely.

    Raises ``UnreadableLine`` (a ValueError) with the reason when the line is neither.
    """
    return decode_json_line(text, python_literals=python_literals)


def read_lines(path: Path, *, skip: int = 0, python_literals: bool = False) -> Iterator[Line]:
    """Yield the lines of a gzip (or plain) JSON-lines file; the first ``skip`` are passed over undecoded."""
    path = Path(path)
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if gzipped else raw
        number = skip
        try:
            for line in read_json_lines(stream, skip=skip, python_literals=python_literals):
                number = line.number
                yield Line(line.number, line.value, line.error, raw.tell())
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            # A truncated download: what decompressed so far was used; the rest is one rejection.
            yield Line(number + 1, None, f"compressed stream ends early ({exc}); re-download the file", raw.tell())
