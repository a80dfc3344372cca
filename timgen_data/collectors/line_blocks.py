"""Reading a text file in blocks of whole lines, each with the number of its first line.

A columnar parser takes many lines at once, which is what makes it fast, but a file
read whole costs memory in proportion to its size. Blocks of a fixed size cut at line
ends keep both: the parser sees whole lines, and line numbers stay exact so a bad line
can still be named. A line too long to hold is passed over unread.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from timgen_data.collectors.json_lines import MAX_LINE_BYTES

BLOCK_BYTES = 1 << 24


@dataclass(frozen=True)
class LineBlock:
    first_line: int  # 1-based number of the block's first line
    # Whole lines, each ending in "\n" but perhaps the file's last; None for one line longer
    # than the reader holds, passed over (it counts as one line).
    data: bytes | None


def read_line_blocks(path: Path, *, block_bytes: int = BLOCK_BYTES,
                     max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[LineBlock]:
    """``path`` in blocks of about ``block_bytes`` that end at a line end.

    A block is longer only where one line is: a line that does not end within
    ``max_line_bytes`` comes as ``LineBlock(number, None)``.

    >>> [(b.first_line, b.data) for b in read_line_blocks(Path("ratings.dat"), block_bytes=8)]  # doctest: +SKIP
    [(1, b'1::1::5::9\\n'), (2, b'1::2::4::9\\n')]
    """
    with Path(path).open("rb") as stream:
        yield from stream_line_blocks(stream, block_bytes=block_bytes, max_line_bytes=max_line_bytes)


def stream_line_blocks(stream: BinaryIO, *, block_bytes: int = BLOCK_BYTES,
                       max_line_bytes: int = MAX_LINE_BYTES) -> Iterator[LineBlock]:
    """:func:`read_line_blocks` over an open stream (a decompressing one, say)."""
    if block_bytes < 1:
        raise ValueError("block_bytes must be at least 1")
    number, carry = 1, b""
    while data := stream.read(block_bytes):
        data = carry + data if carry else data
        cut = data.rfind(b"\n") + 1
        if cut:
            yield LineBlock(number, data[:cut])
            number += data.count(b"\n", 0, cut)
        carry = data[cut:]
        if len(carry) > max_line_bytes:
            yield LineBlock(number, None)
            number += 1
            carry = _rest_after_line(stream, block_bytes)
    if carry:
        yield LineBlock(number, carry)


def _rest_after_line(stream: BinaryIO, block_bytes: int) -> bytes:
    """Reads past the end of the current line; returns what was read after it."""
    while data := stream.read(block_bytes):
        end = data.find(b"\n")
        if end >= 0:
            return data[end + 1:]
    return b""
