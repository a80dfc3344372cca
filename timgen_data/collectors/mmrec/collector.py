"""Storing an MMRec folder: users, items, ``rate`` interactions and the feature matrices.

Users and items keep their original ids from the mapping files, so an import of an
export lands on the same ids; each non-zero feature row becomes an ``ok`` asset without a
local file plus a ``features`` row whose encoder name says which file it came from. The
toolbox's split (``x_label``) has no column in the store, so it is written beside the data
as ``imports/mmrec-<name>/splits.csv`` for anyone who wants the original split back.
"""

from __future__ import annotations

import hashlib
import time
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd

from timgen_data.alignment.timeline import normalize_epochs
from timgen_data.collectors.mmrec.layout import (
    FEATURES,
    SPLITS,
    MmrecLayout,
    read_layout,
)
from timgen_data.collectors.records import ItemRecord, UserRecord
from timgen_data.collectors.report import CollectReport
from timgen_data.collectors.save import (
    begin_source,
    finish_source,
    save_interactions,
    save_items,
    save_users,
)
from timgen_data.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, id_map, upsert_rows

COLLECTOR = "mmrec"


def namespace_of(name: str) -> str:
    return f"mmrec-{name}"


def encoder_name(name: str, modality: str) -> str:
    return f"mmrec:{name}/{FEATURES[modality]}@1"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def collect_mmrec(store: Store, path: Path, *, name: str | None = None, data_dir: Path | None = None,
                  progress: Progress = SILENT) -> CollectReport:
    """Import the MMRec folder ``path`` into namespace ``mmrec-<name>``; re-runs upsert the same rows.

    >>> collect_mmrec(store, Path("data/baby")).stored["interactions"]  # doctest: +SKIP
    160792
    """
    path = Path(path)
    progress.start("parse", total=None)
    layout = read_layout(path, name)
    progress.finish("parse")
    namespace = namespace_of(layout.name)
    inter_file = path / f"{layout.name}.inter"
    report = CollectReport(COLLECTOR, layout.name, namespace, str(path), _sha256(inter_file))
    frame = layout.inter
    ts = normalize_epochs(frame["timestamp"].to_numpy(), record=inter_file.name)
    report.read = {"interactions": len(frame), "users": len(layout.users), "items": len(layout.items),
                   **{f"{m} vectors": int(v.shape[0]) for m, v in layout.features.items()}}
    report.skipped = {"users_without_mapping_file": 0 if layout.mapped["users"] else len(layout.users),
                      "items_without_mapping_file": 0 if layout.mapped["items"] else len(layout.items)}

    with store.begin() as conn:
        source_id = begin_source(conn, collector=COLLECTOR, variant=layout.name, namespace=namespace, url=str(path),
                                 sha256=report.sha256, md5=None, license=None)
        user_ids = save_users(conn, namespace, [UserRecord(u, {}) for u in layout.users.values()])
        item_ids = save_items(conn, namespace, [ItemRecord(i, None, None, [], {}) for i in layout.items.values()])
        progress.start("store interactions", total=len(frame), unit="rows")
        users = [user_ids[layout.users[u]] for u in frame["userID"].tolist()]
        items = [item_ids[layout.items[i]] for i in frame["itemID"].tolist()]
        rows = list(zip(users, items, ts.tolist(), repeat("rate"), frame["rating"].astype(float).tolist(),
                        repeat(None), repeat(None), repeat(None), repeat(None), repeat(source_id)))
        written = save_interactions(conn, rows)
        progress.advance("store interactions", len(frame))
        progress.finish("store interactions")
        vectors = _save_features(conn, layout, item_ids, report)
        report.written = {"interactions": written, **{f"{m} features": n for m, n in vectors.items()}}
        report.stored = {"users": len(id_map(conn, "users", namespace)), "items": len(item_ids),
                         "interactions": len(frame), **{f"{m} features": n for m, n in vectors.items()}}
        finish_source(conn, source_id, {**report.stored, "rejected": report.rejections.count})
    if data_dir is not None:
        splits = _write_splits(Path(data_dir) / "imports" / namespace / "splits.csv", layout, ts)
        report.stored["splits file"] = str(splits)
    return report


def _save_features(conn, layout: MmrecLayout, item_ids: dict[str, int], report: CollectReport) -> dict[str, int]:
    """One asset and one features row per item with a non-zero vector, per modality."""
    counts = {}
    now = int(time.time())
    for modality, matrix in layout.features.items():
        filename = FEATURES[modality]
        present = [(row, layout.items[row]) for row in range(matrix.shape[0])
                   if row in layout.items and np.any(matrix[row])]
        report.skipped[f"{modality}_zero_or_unmapped_rows"] = matrix.shape[0] - len(present)
        uris = {row: f"mmrec:{layout.name}/{filename}#{row}" for row, _ in present}
        upsert_rows(
            conn, "assets", ["item_id", "modality", "uri", "status", "updated_at"],
            [(item_ids[original], modality, uris[row], "ok", now) for row, original in present],
            conflict=["item_id", "modality", "uri"], update=["status", "updated_at"],
        )
        asset_ids = dict(fetch_rows(conn, "SELECT uri, id FROM assets WHERE modality = :m AND uri LIKE :u",
                                    {"m": modality, "u": f"mmrec:{layout.name}/{filename}#%"}))
        encoder = encoder_name(layout.name, modality)
        upsert_rows(
            conn, "features", ["asset_id", "encoder", "dim", "vector"],
            [(asset_ids[uris[row]], encoder, int(matrix.shape[1]), np.ascontiguousarray(matrix[row]).tobytes())
             for row, _ in present],
            conflict=["asset_id", "encoder"], update=["dim", "vector"],
        )
        counts[modality] = len(present)
    return counts


def _write_splits(target: Path, layout: MmrecLayout, ts: np.ndarray) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    frame = layout.inter
    pd.DataFrame({
        "user_id": [layout.users[u] for u in frame["userID"].tolist()],
        "item_id": [layout.items[i] for i in frame["itemID"].tolist()],
        "ts": ts,
        "split": [SPLITS[x] for x in frame["x_label"].tolist()],
    }).to_csv(target, index=False)
    return target
