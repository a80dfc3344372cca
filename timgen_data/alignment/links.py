"""``align links``: the same movie across sources, stored in ``item_links``.

Three ways in, strongest first:

1. direct links a source ships (MovieLens ``links.csv`` → IMDb), stored at collect time;
2. title + year matching against IMDb's official ``title.basics.tsv.gz`` (streamed; only the
   titles we need are indexed), for items without a direct IMDb link;
3. the GroupLens MovieLens-YouTube trailer file, validated line by line.

Re-running is idempotent: links are upserted on (item, target source, target id).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from timgen_data.alignment.imdb_index import TitleIndex
from timgen_data.alignment.titles import TitleKey, normalize_title
from timgen_data.alignment.trailers import TrailerRejection, read_trailer_file
from timgen_data.errors import NothingToDoError
from timgen_data.imdb_basics import BasicsReadReport, iter_title_basics
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, upsert_rows

IMDB, YOUTUBE = "imdb", "youtube"
TITLE_METHOD, TRAILER_METHOD = "title-year-match", "movielens-youtube-trailers"
# Sources whose items are link *targets*, not items to link.
TARGET_SOURCES = (IMDB, YOUTUBE)
# ML-100K numbers its movies differently from every later release, which the trailer file uses.
TRAILER_INCOMPATIBLE = ("movielens-100k",)


@dataclass
class LinkReport:
    items: int = 0
    direct: int = 0  # IMDb links the sources shipped themselves
    title_matched: int = 0
    imdb_titles_indexed: int = 0
    imdb_lines: int = 0
    trailer_links: int = 0
    trailer_lines: int = 0
    trailer_rejections: list[TrailerRejection] = field(default_factory=list)
    disagreements: list[dict[str, Any]] = field(default_factory=list)  # direct link ≠ exact title match
    unmatched: list[dict[str, Any]] = field(default_factory=list)  # items still without an IMDb link

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items, "direct": self.direct, "title_matched": self.title_matched,
            "imdb_titles_indexed": self.imdb_titles_indexed, "imdb_lines": self.imdb_lines,
            "trailer_links": self.trailer_links, "trailer_lines": self.trailer_lines,
            "trailer_rejections": [vars(r) for r in self.trailer_rejections],
            "disagreements": self.disagreements, "unmatched": self.unmatched,
        }


@dataclass(frozen=True)
class _Item:
    id: int
    source: str
    external_id: str
    title: str | None
    year: int | None
    raw_title: str | None  # as the source wrote it ("Matrix, The (1999)"), alternates included

    def key(self) -> TitleKey | None:
        raw = self.raw_title or self.title
        return normalize_title(raw, self.year) if raw else None

    def source_title(self) -> str:
        if self.raw_title:
            return self.raw_title
        return f"{self.title} ({self.year})" if self.year else (self.title or "")


def link_items(
    store: Store,
    *,
    imdb_basics: Path | None = None,
    trailers: Path | None = None,
    sources: Sequence[str] = (),
    year_tolerance: int = 1,
    min_confidence: float = 0.9,
    progress: Progress = SILENT,
) -> LinkReport:
    """Link stored items to IMDb (by title + year) and to YouTube trailers; report what stayed unmatched.

    >>> link_items(store, imdb_basics=Path("title.basics.tsv.gz")).title_matched  # doctest: +SKIP
    1204
    """
    report = LinkReport()
    with store.begin() as conn:
        items = _items(conn, sources)
        direct = _direct_imdb(conn)
    if not items:
        raise NothingToDoError("no items to link: collect a source first (e.g. `timgen-data collect movielens`)")
    report.items = len(items)
    report.direct = sum(1 for item in items if item.id in direct)

    matched: dict[int, str] = {}
    if imdb_basics is not None:
        matched = _match_titles(store, items, direct, Path(imdb_basics), year_tolerance, min_confidence, report, progress)
    if trailers is not None:
        _import_trailers(store, items, Path(trailers), report)

    for item in items:
        if item.id not in direct and item.id not in matched:
            report.unmatched.append({"source": item.source, "item_id": item.external_id, "title": item.title,
                                     "year": item.year, "reason": _unmatched_reason(item, imdb_basics)})
    return report


def _unmatched_reason(item: _Item, imdb_basics: Path | None) -> str:
    if imdb_basics is None:
        return "no direct IMDb link, and no --imdb-basics file to match titles against"
    if not item.title:
        return "no title to match"
    return "no IMDb title with this title and year (or the match was ambiguous)"


def _items(conn: Connection, sources: Sequence[str]) -> list[_Item]:
    rows = fetch_rows(conn, "SELECT id, source, external_id, title, year, attributes FROM items ORDER BY id")
    wanted = set(sources)
    return [
        _Item(*row[:5], json.loads(row[5] or "{}").get("original_title")) for row in rows
        if row[1] not in TARGET_SOURCES and (not wanted or row[1] in wanted)
    ]


def _direct_imdb(conn: Connection) -> dict[int, str]:
    rows = fetch_rows(
        conn, "SELECT item_id, target_external_id FROM item_links WHERE target_source = :s AND method <> :m",
        {"s": IMDB, "m": TITLE_METHOD},
    )
    return {item_id: target for item_id, target in rows}


def _match_titles(store, items, direct, basics: Path, year_tolerance, min_confidence, report, progress) -> dict[int, str]:
    keys = {item.id: item.key() for item in items}
    wanted = {t for key in keys.values() if key for t in (key.title, *key.alternates)}
    read = BasicsReadReport()
    progress.start("index IMDb titles", None, "titles")
    index = TitleIndex.build(_counted(iter_title_basics(basics, report=read), progress), wanted=wanted)
    progress.finish("index IMDb titles")
    report.imdb_titles_indexed, report.imdb_lines = len(index), read.lines

    rows, matched = [], {}
    for item in items:
        key = keys[item.id]
        if key is None:
            continue
        candidates = index.lookup(key, year_tolerance=year_tolerance, min_confidence=min_confidence)
        if not candidates:
            continue
        best = candidates[0]
        tied = [c.tconst for c in candidates if c.confidence == best.confidence]
        if item.id in direct:
            if best.confidence == 1.0 and len(tied) == 1 and best.tconst != direct[item.id]:
                report.disagreements.append({"source": item.source, "item_id": item.external_id, "title": item.title,
                                             "direct": direct[item.id], "title_match": best.tconst})
            continue
        if len(tied) > 1:
            # Two IMDb titles fit equally well: linking either would be a guess.
            report.unmatched.append({"source": item.source, "item_id": item.external_id, "title": item.title,
                                     "year": item.year, "reason": f"ambiguous: {', '.join(tied)}"})
            matched[item.id] = ""  # reported already; not "unmatched" a second time
            continue
        matched[item.id] = best.tconst
        rows.append((item.id, IMDB, best.tconst, TITLE_METHOD, float(best.confidence)))
    with store.begin() as conn:
        upsert_rows(conn, "item_links", ["item_id", "target_source", "target_external_id", "method", "confidence"],
                    rows, conflict=["item_id", "target_source", "target_external_id"], update=["method", "confidence"])
    report.title_matched = len(rows)
    return matched


def _counted(titles, progress: Progress):
    for n, title in enumerate(titles, 1):
        if n % 50_000 == 0:
            progress.advance("index IMDb titles", 50_000)
        yield title


def _import_trailers(store: Store, items: list[_Item], path: Path, report: LinkReport) -> None:
    by_namespace: dict[str, dict[str, _Item]] = {}
    for item in items:
        if item.source.startswith("movielens") and item.source not in TRAILER_INCOMPATIBLE:
            by_namespace.setdefault(item.source, {})[item.external_id] = item
    rows = []
    for namespace, movies in by_namespace.items():
        result = read_trailer_file(path, {mid: item.source_title() for mid, item in movies.items()})
        report.trailer_lines = result.lines
        report.trailer_rejections.extend(result.rejected)
        rows += [(movies[mid].id, YOUTUBE, video, TRAILER_METHOD, 1.0) for mid, video in result.links]
    with store.begin() as conn:
        upsert_rows(conn, "item_links", ["item_id", "target_source", "target_external_id", "method", "confidence"],
                    rows, conflict=["item_id", "target_source", "target_external_id"], update=["method", "confidence"])
    report.trailer_links = len(rows)
