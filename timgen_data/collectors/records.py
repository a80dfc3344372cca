"""Source-neutral records every collector's parse step produces and its save step stores."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple


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


class InteractionRecord(NamedTuple):
    """One interaction as a parse step produces it, keyed by store ids.

    A ``NamedTuple`` so it is the row ``save_interactions`` inserts (fields in ``INTERACTION_COLUMNS``
    order) with no copy: archive sources that stream millions of rows may still pass plain tuples
    in the same order, and pay nothing for the names.
    """

    user_id: int
    item_id: int
    ts: int
    action: str
    value: float | None = None
    duration: float | None = None
    device: str | None = None
    platform: str | None = None
    geo: str | None = None
    source_id: int | None = None
    text: str | None = None
