"""Source-neutral records every collector's parse step produces and its save step stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ItemRecord:
    external_id: str
    title: str | None
    year: int | None
    categories: list[str]
    attributes: dict[str, Any]
    text: str | None = None

    @property
    def category(self) -> str | None:
        """The primary class: the first category listed by the source."""
        return self.categories[0] if self.categories else None


@dataclass(frozen=True)
class UserRecord:
    external_id: str
    attributes: dict[str, Any]


@dataclass(frozen=True)
class LinkRecord:
    """``item`` (external id in the collecting source) is ``target_external_id`` in ``target_source``."""

    item: str
    target_source: str
    target_external_id: str


# Every action the store knows: the paper's five, plus what the scenario formulas need.
ACTIONS = ("click", "view", "purchase", "like", "comment", "cart", "share", "rate")
