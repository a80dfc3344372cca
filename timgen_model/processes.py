"""The processes sharing one run: one, or several under ``accelerate launch`` / ``torchrun``.

Training and evaluation split their work between the processes and exchange what each
computed through ``gather``; with one process nothing is exchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


def _alone(value: Any) -> list[Any]:
    return [value]


@dataclass(frozen=True)
class Processes:
    """Which process this is (``index``, 0 is the main one), how many there are, and
    ``gather``: every process's ``value``, in process order, on every process (all of them
    must call it, in the same order)."""

    index: int = 0
    count: int = 1
    gather: Callable[[Any], list[Any]] = _alone

    @property
    def is_main(self) -> bool:
        return self.index == 0

    def part(self, items: np.ndarray) -> np.ndarray:
        """This process's contiguous part of ``items`` (parts differ in length by one at most),
        so the parts gathered in process order are ``items`` in order."""
        return np.array_split(items, self.count)[self.index]


ONE_PROCESS = Processes()
