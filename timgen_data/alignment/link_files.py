"""``align links`` from the files it is given to the CSV of items left without an IMDb link.

:func:`link_items` works on local files and returns what stayed unmatched; this adds what a
run from the command line needs around it: inputs given as paths or URLs, and the
unmatched items written out for a person to look through.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timgen_data.alignment.input_files import local_input
from timgen_data.alignment.links import LinkReport, link_items
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store

UNMATCHED_CSV = Path("reports") / "links-unmatched.csv"
UNMATCHED_COLUMNS = ("source", "item_id", "title", "year", "reason")


@dataclass
class LinkRun:
    report: LinkReport
    unmatched_csv: Path  # where the items without an IMDb link were listed


def link_items_from_files(
    store: Store,
    data_dir: Path,
    *,
    imdb_basics: str | None = None,
    trailers: str | None = None,
    unmatched_csv: Path | None = None,
    sources: Sequence[str] = (),
    year_tolerance: int = 1,
    min_confidence: float = 0.9,
    progress: Progress = SILENT,
) -> LinkRun:
    """:func:`link_items` with ``imdb_basics`` and ``trailers`` as paths or URLs (downloaded under
    ``data_dir``), listing the unmatched items in ``unmatched_csv`` (default
    ``<data_dir>/reports/links-unmatched.csv``).

    >>> link_items_from_files(store, Path("timgen-data"), trailers="ml-youtube.csv").unmatched_csv  # doctest: +SKIP
    PosixPath('timgen-data/reports/links-unmatched.csv')
    """
    report = link_items(store, imdb_basics=local_input(imdb_basics, data_dir, progress),
                        trailers=local_input(trailers, data_dir, progress), sources=sources,
                        year_tolerance=year_tolerance, min_confidence=min_confidence, progress=progress)
    target = unmatched_csv or Path(data_dir) / UNMATCHED_CSV
    write_unmatched(report.unmatched, target)
    return LinkRun(report, target)


def write_unmatched(unmatched: list[dict[str, Any]], path: Path) -> Path:
    """The unmatched items as CSV (one header line, then one line per item); the folder is made if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, UNMATCHED_COLUMNS)
        writer.writeheader()
        writer.writerows(unmatched)
    return path
