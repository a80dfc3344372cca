"""IMDb titles as an index for linking items by title.

``TitleIndex`` keeps the titles of ``title.basics`` (read by :mod:`timgen_data.imdb_basics`)
worth matching, keyed by normalized title, so that a MovieLens title can be looked up in
constant time per name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from timgen_data.alignment.titles import TitleKey, match_confidence, normalize_title
from timgen_data.imdb_basics import MOVIE_TYPES, ImdbTitle

__all__ = ["ImdbMatch", "TitleIndex"]


@dataclass(frozen=True, slots=True)
class ImdbMatch:
    """A candidate IMDb title for a looked-up key; ``title`` is IMDb's primary title."""

    tconst: str
    confidence: float
    title: str
    year: int | None


@dataclass(frozen=True, slots=True)
class _Entry:
    tconst: str
    key: TitleKey
    primary_title: str
    year: int | None


class TitleIndex:
    """IMDb titles by normalized name (primary, original, and their alternates)."""

    def __init__(self) -> None:
        self._by_name: dict[str, list[_Entry]] = {}
        self._tconsts: set[str] = set()

    @classmethod
    def build(
        cls,
        titles: Iterable[ImdbTitle],
        *,
        types: frozenset[str] = MOVIE_TYPES,
        wanted: set[str] | None = None,
    ) -> TitleIndex:
        """Index ``titles`` of the given ``types``.

        ``wanted``, when given, is the set of normalized names (``TitleKey.names``) of
        the items to link; an IMDb title none of whose normalized names is in it is
        dropped, so memory is bounded by what is to be matched, not by IMDb's size.
        """
        index = cls()
        by_name = index._by_name
        for t in titles:
            if t.title_type not in types:
                continue
            keys = [normalize_title(t.primary_title, t.start_year)]
            if t.original_title is not None and t.original_title != t.primary_title:
                original = normalize_title(t.original_title, t.start_year)
                if original != keys[0]:
                    keys.append(original)
            names = {name for key in keys for name in key.names if name}
            if wanted is not None:
                names &= wanted
                if not names:
                    continue
            index._tconsts.add(t.tconst)
            for key in keys:
                entry = _Entry(t.tconst, key, t.primary_title, t.start_year)
                for name in key.names:
                    if name in names:
                        by_name.setdefault(name, []).append(entry)
        return index

    def lookup(
        self, key: TitleKey, *, year_tolerance: int = 1, min_confidence: float = 0.8
    ) -> list[ImdbMatch]:
        """IMDb titles matching ``key`` at ``min_confidence`` or more, best first.

        Order: confidence, then closeness of the year, then tconst. Ties are kept:
        two tconsts at the same top confidence mean the title is ambiguous, and the
        caller must see both to decide (or refuse) rather than get an arbitrary one.
        """
        best: dict[str, tuple[float, _Entry]] = {}
        for name in key.names:
            for entry in self._by_name.get(name, ()):
                confidence = match_confidence(
                    key, entry.key, year_tolerance=year_tolerance
                )
                if confidence < min_confidence:
                    continue
                seen = best.get(entry.tconst)
                if seen is None or confidence > seen[0]:
                    best[entry.tconst] = (confidence, entry)

        def order(item: tuple[float, _Entry]) -> tuple[float, int, str]:
            confidence, entry = item
            if key.year is None or entry.year is None:
                distance = 10_000  # unknown years sort after any known difference
            else:
                distance = abs(key.year - entry.year)
            return (-confidence, distance, entry.tconst)

        return [
            ImdbMatch(entry.tconst, confidence, entry.primary_title, entry.year)
            for confidence, entry in sorted(best.values(), key=order)
        ]

    def __len__(self) -> int:
        return len(self._tconsts)
