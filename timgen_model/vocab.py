"""Token vocabularies built from the training split, with padding and an unknown bucket."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

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

    def encode(self, values: np.ndarray | Sequence[str]) -> np.ndarray:
        """Indices of ``values``; "" and None become PAD (unknown context), unseen tokens UNK."""
        values = np.asarray(values, dtype=object)
        index = pd.Index(self.tokens).get_indexer(values)
        index = np.where(index < 0, UNK, index)
        empty = (values == "") | pd.isna(values)
        return np.where(empty, PAD, index).astype(np.int64)

    def decode(self, indices: Iterable[int]) -> list[str]:
        return [self.tokens[int(i)] for i in indices]

    def to_json(self) -> dict:
        return {"tokens": list(self.tokens), "reserved": list(self.reserved)}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        return cls(tuple(data["tokens"]), tuple(data["reserved"]))
