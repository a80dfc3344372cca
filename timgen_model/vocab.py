"""Token vocabularies built from the training split, with padding and an unknown bucket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

PAD, UNK = 0, 1
RESERVED = ("<pad>", "<unk>")


@dataclass(frozen=True)
class Vocabulary:
    """Index → token; index 0 pads, 1 is anything not seen when the vocabulary was built.

    >>> v = Vocabulary.build(["web", "app", "web"])
    >>> v.encode(np.array(["app", "tv"])).tolist()
    [2, 1]
    """

    tokens: tuple[str, ...]
    reserved: tuple[str, ...] = RESERVED

    @classmethod
    def build(cls, values: Iterable[str], *, reserved: Sequence[str] = RESERVED, skip_empty: bool = True) -> "Vocabulary":
        # Sorted, so the same data always gives the same indices (repeatable runs).
        unique = sorted({v for v in values if v is not None and not (skip_empty and v == "")})
        clash = set(unique) & set(reserved)
        unique = [v for v in unique if v not in clash]
        return cls(tuple(reserved) + tuple(unique), tuple(reserved))

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def index_dtype(self) -> np.dtype:
        """The narrowest signed integer type that holds every index (encoded splits use it)."""
        for dtype in (np.int8, np.int16, np.int32):
            if len(self.tokens) <= np.iinfo(dtype).max:
                return np.dtype(dtype)
        return np.dtype(np.int64)

    def encode(self, values: np.ndarray | Sequence[str]) -> np.ndarray:
        """Indices of ``values``; "" and None become PAD (unknown context), unseen tokens UNK."""
        values = np.asarray(values, dtype=object)
        index = pd.Index(self.tokens).get_indexer(values)
        index = np.where(index < 0, UNK, index)
        empty = (values == "") | pd.isna(values)
        return np.where(empty, PAD, index).astype(np.int64)

    @cached_property
    def _lookup(self) -> pa.Array:
        return pa.array(self.tokens, pa.string())

    def encode_arrow(self, values: pa.Array) -> np.ndarray:
        """``encode`` for an Arrow string array, without a Python object per value; the
        indices come in ``index_dtype``.

        >>> Vocabulary.build(["web", "app"]).encode_arrow(pa.array(["app", "tv", "", None])).tolist()
        [2, 1, 0, 0]
        """
        lookup = self._lookup if values.type == self._lookup.type else self._lookup.cast(values.type)
        index = pc.index_in(values, value_set=lookup).fill_null(UNK).to_numpy(zero_copy_only=False)
        empty = pc.fill_null(pc.equal(values, ""), True).to_numpy(zero_copy_only=False)
        return np.where(empty, PAD, index).astype(self.index_dtype)

    def decode(self, indices: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in indices]

    def to_json(self) -> dict:
        return {"tokens": list(self.tokens), "reserved": list(self.reserved)}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        return cls(tuple(data["tokens"]), tuple(data["reserved"]))
