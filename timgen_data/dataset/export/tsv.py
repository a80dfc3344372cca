"""Tab-separated text fields, a batch at a time: Arrow string arrays joined into lines and written as one buffer.

Field formatting keeps Python's own rules (``clean``, ``number``), applied once per
distinct value of a batch (ids, actions and ratings repeat a lot) and spread back with
Arrow, so the text is exactly what formatting value by value in Python gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def clean(value: object) -> str:
    """One field: tabs and line breaks would break the row, so they become spaces."""
    text = "" if value is None else str(value)
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ").strip()


def number(value: float) -> str:
    """A float field; empty where there is no value (a click has no rating), which RecBole reads as NaN."""
    value = float(value)
    if math.isnan(value):
        return ""
    return str(int(value)) if value.is_integer() else repr(value)


def _per_distinct(values: pa.Array, text: Callable[[object], str], null: str) -> pa.Array:
    encoded = pc.dictionary_encode(values)
    texts = pa.array([text(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return pc.fill_null(texts.take(encoded.indices), null)


def cleaned(values: pa.Array) -> pa.Array:
    """:func:`clean` of every value."""
    return _per_distinct(values, clean, "")


def numbers(values: pa.Array) -> pa.Array:
    """:func:`number` of every value; a null is no value."""
    return _per_distinct(values, lambda v: number(float("nan") if v is None else v), "")


def integers(values: np.ndarray | pa.Array) -> pa.Array:
    """Whole numbers in decimal, as ``str(int)`` writes them."""
    return pc.cast(pa.array(values, pa.int64()) if isinstance(values, np.ndarray) else values, pa.string())


def lines(fields: list[pa.Array]) -> pa.Array:
    """One line per row: the fields joined by tabs, each line ending in a newline."""
    return pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, "\t"), "", "\n")


def write_lines(fh: BinaryIO, text: pa.Array) -> None:
    """Write a string array's values back to back (its lines, when made by :func:`lines`)."""
    if len(text) == 0:
        return
    offset_type = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(text.buffers()[1], dtype=offset_type)[text.offset:text.offset + len(text) + 1]
    fh.write(memoryview(text.buffers()[2])[int(offsets[0]):int(offsets[-1])])


def header(fh: BinaryIO, names: list[str]) -> None:
    fh.write(("\t".join(names) + "\n").encode("utf-8"))
