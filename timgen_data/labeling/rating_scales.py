"""The rating scales the movie scenario's scores are on: one per source namespace of its ratings.

The movie scenario keeps each rating as its source gave it (MovieLens 0.5–5, IMDb 1–10: the
paper's movie scale is 1–10 and nothing is rescaled), so a store with ratings of several
sources holds scores on several scales. ``label`` reports them, and notes them with its
cursor: the scale a collect recorded for the namespace (a platform's log declares its own,
``rating_scale`` in its mapping), else the one its source declares in ``timgen_data.sources``.
"""

from __future__ import annotations

from sqlalchemy import Connection

from timgen_data.sources import source_of_namespace
from timgen_data.store.query import fetch_rows
from timgen_data.store.state import rating_scales as recorded_scales

# The item table's unique (source, external_id) index lists the namespaces without a sort.
_NAMESPACES = "SELECT DISTINCT source FROM items"
# One labelled interaction of the namespace is enough: LIMIT 1 stops at the first.
_HAS_LABELS = """
SELECT 1 FROM items it
JOIN interactions i ON i.item_id = it.id
JOIN labels l ON l.interaction_id = i.id AND l.scenario = :scenario
WHERE it.source = :namespace
LIMIT 1
"""


def rating_scales(conn: Connection, scenario: str) -> dict[str, list[float] | None]:
    """``{namespace: [lowest, highest]}`` for each namespace with ``scenario`` labels; None where
    neither a collect recorded one nor its source declares one (an MMRec dataset, a log
    mapped without ``rating_scale``)."""
    recorded = recorded_scales(conn)
    scales: dict[str, list[float] | None] = {}
    for (namespace,) in fetch_rows(conn, _NAMESPACES):
        if fetch_rows(conn, _HAS_LABELS, {"scenario": scenario, "namespace": namespace}):
            source = source_of_namespace(namespace)
            scale = recorded.get(namespace) or (source.rating_scale if source else None)
            scales[namespace] = [float(x) for x in scale] if scale else None
    return dict(sorted(scales.items()))


def describe_scales(scales: dict[str, list[float] | None]) -> str:
    """One line for a report.

    >>> describe_scales({"imdb": [1.0, 10.0], "movielens-100k": [0.5, 5.0], "events-x": None})
    'imdb 1–10, movielens-100k 0.5–5, events-x unknown'
    """
    return ", ".join(f"{ns} {s[0]:g}–{s[1]:g}" if s else f"{ns} unknown" for ns, s in scales.items())
