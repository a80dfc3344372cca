"""The media assets the store keeps for a dataset's items, looked up by the ids the dataset
gives them (``external_id``, or ``source:external_id`` in a dataset built from several sources)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from timgen_data.store.query import fetch_rows, in_clause

_CHUNK = 500  # ids per query: below every database's limit on bound parameters
_COLUMNS = "it.source, it.external_id, a.modality, a.uri, a.local_path, a.mime, a.status"


@dataclass(frozen=True)
class StoredAsset:
    modality: str
    uri: str
    path: Path | None  # the fetched file, None when it was not fetched or is gone
    mime: str | None


def _dataset_ids(item_ids: list[str], sources: list[str] | None) -> list[tuple[str | None, str, str]]:
    """(source or None for any, external id, dataset id) to look for."""
    if sources is None:
        # Where the dataset came from is unknown: an id may be plain or carry its source.
        plain = [(None, i, i) for i in item_ids]
        prefixed = [(s, e, i) for i in item_ids if ":" in i for s, e in [i.split(":", 1)]]
        return plain + prefixed
    if len(sources) == 1:
        return [(sources[0], i, i) for i in item_ids]
    found = []
    for item in item_ids:
        for source in sources:  # a namespace may itself hold ":"; the dataset's own list says which it is
            if item.startswith(f"{source}:"):
                found.append((source, item[len(source) + 1 :], item))
    return found


def item_assets(conn: Connection, item_ids: Iterable[str], assets_root: Path,
                sources: list[str] | None = None) -> dict[str, list[StoredAsset]]:
    """Each item's assets in the order the store planned them. ``sources``: the source
    namespaces the dataset was built from (its build.json), None when unknown; ``assets_root``:
    the content store the ``local_path`` values are relative to.

    >>> item_assets(conn, ["1"], Path("timgen-data/assets"), ["movielens-100k"])  # doctest: +SKIP
    {'1': [StoredAsset(modality='image', uri='https://...', path=None, mime=None)]}
    """
    wanted = _dataset_ids(list(dict.fromkeys(str(i) for i in item_ids)), sources)
    by_key = {(s, e): i for s, e, i in wanted}
    found: dict[str, list[StoredAsset]] = {}
    externals = list(dict.fromkeys(e for _, e, _ in wanted))
    for start in range(0, len(externals), _CHUNK):
        marks, params = in_clause("e", externals[start : start + _CHUNK])
        rows = fetch_rows(conn, f"SELECT {_COLUMNS} FROM assets a JOIN items it ON it.id = a.item_id "
                                f"WHERE it.external_id IN ({marks}) ORDER BY it.id, a.id", params)
        for source, external, modality, uri, local_path, mime, status in rows:
            item = by_key.get((source, external), by_key.get((None, external)))
            if item is None:
                continue
            path = Path(assets_root) / local_path if status == "ok" and local_path else None
            found.setdefault(item, []).append(
                StoredAsset(modality, uri, path if path is not None and path.is_file() else None, mime))
    return found
