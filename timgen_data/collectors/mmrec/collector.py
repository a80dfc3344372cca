"""Storing an MMRec folder: users, items, ``rate`` interactions and the feature matrices.

Users and items keep their original ids from the mapping files, so an import of an
export lands on the same ids; each non-zero feature row becomes an ``ok`` asset without a
local file plus a ``features`` row whose encoder name says which file it came from. The
toolbox's split (``x_label``) has no column in the store, so it is written beside the data
as ``imports/mmrec-<name>/splits.csv`` for anyone who wants the original split back.

The interactions are read in chunks (a first pass checks them and gathers the ids), and
stored in one transaction, as before, so a failed or interrupted import leaves nothing
and a re-run starts over; the splits file is written beside it and takes its place only
once the transaction has committed.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from itertools import repeat
from pathlib import Path

import numpy as np
import pandas as pd

from timgen_data.collectors.mmrec.layout import (
    CHUNK_ROWS,
    FEATURES,
    SPLITS,
    MmrecLayout,
    read_inter_chunks,
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
from timgen_data.errors import TimeValueError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, id_map, upsert_rows
from timgen_data.timeline import normalize_epochs

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
                  progress: Progress = SILENT, chunk_rows: int = CHUNK_ROWS) -> CollectReport:
    """Import the MMRec folder ``path`` into namespace ``mmrec-<name>``; re-runs upsert the same rows.

    >>> collect_mmrec(store, Path("data/baby")).stored["interactions"]  # doctest: +SKIP
    160792
    """
    path = Path(path)
    progress.start("parse", total=None)
    layout = read_layout(path, name)
    progress.finish("parse")
    namespace = namespace_of(layout.name)
    inter_file = layout.inter_path
    rows = layout.inter.rows
    report = CollectReport(COLLECTOR, layout.name, namespace, str(path), _sha256(inter_file))
    report.read = {"interactions": rows, "users": len(layout.users), "items": len(layout.items),
                   **{f"{m} vectors": int(v.shape[0]) for m, v in layout.features.items()}}
    report.skipped = {"users_without_mapping_file": 0 if layout.mapped["users"] else len(layout.users),
                      "items_without_mapping_file": 0 if layout.mapped["items"] else len(layout.items)}
    splits = Path(data_dir) / "imports" / namespace / "splits.csv" if data_dir is not None else None
    staged = splits.with_name(f".{splits.name}.partial") if splits is not None else None

    try:
        with store.begin() as conn:
            source_id = begin_source(conn, collector=COLLECTOR, variant=layout.name, namespace=namespace,
                                     url=str(path), sha256=report.sha256, md5=None, license=None)
            user_ids = save_users(conn, namespace, [UserRecord(u, {}) for u in layout.users.values()])
            item_ids = save_items(conn, namespace, [ItemRecord(i, None, None, [], {}) for i in layout.items.values()])
            progress.start("store interactions", total=rows, unit="rows")
            written = 0
            with _SplitsWriter(staged) as splits_out:
                for chunk, ts in _normalized_chunks(layout, chunk_rows):
                    users = [layout.users[u] for u in chunk["userID"].tolist()]
                    items = [layout.items[i] for i in chunk["itemID"].tolist()]
                    written += save_interactions(conn, list(zip(
                        [user_ids[u] for u in users], [item_ids[i] for i in items], ts.tolist(), repeat("rate"),
                        chunk["rating"].astype(float).tolist(), repeat(None), repeat(None), repeat(None),
                        repeat(None), repeat(source_id))))
                    splits_out.write(users, items, ts, chunk["x_label"])
                    progress.advance("store interactions", len(chunk))
            progress.finish("store interactions")
            vectors = _save_features(conn, layout, item_ids, report)
            report.written = {"interactions": written, **{f"{m} features": n for m, n in vectors.items()}}
            report.stored = {"users": len(id_map(conn, "users", namespace)), "items": len(item_ids),
                             "interactions": rows, **{f"{m} features": n for m, n in vectors.items()}}
            finish_source(conn, source_id, {**report.stored, "rejected": report.rejections.count})
    except BaseException:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    if splits is not None:
        os.replace(staged, splits)
        report.stored["splits file"] = str(splits)
    return report


def _normalized_chunks(layout: MmrecLayout, chunk_rows: int):
    """``(frame, epoch seconds)`` per chunk of the interactions, the times read as one whole column is.

    The unit of a column of epochs follows its largest value, so that value goes after
    every chunk: each reads in the same unit, and a bad row is named by its place in the
    file. A bad largest value spoils every chunk's reading; those before the first bad row
    are passed over, since the import fails there and stores nothing.
    """
    summary = layout.inter
    record = layout.inter_path.name
    where = f"{record} row"
    dtype = summary.timestamp_dtype
    tail = np.asarray([] if summary.largest_timestamp is None else [summary.largest_timestamp], dtype=dtype)
    offset, passed_over = 0, False
    for chunk in read_inter_chunks(layout.inter_path, timestamp_dtype=dtype, chunk_rows=chunk_rows):
        size = len(chunk)
        try:
            ts = normalize_epochs(np.concatenate([chunk["timestamp"].to_numpy(dtype=dtype), tail]), record=record)
        except TimeValueError as exc:
            row = re.match(rf"{re.escape(where)} (\d+):", str(exc))
            if row is None or int(row.group(1)) < size:
                raise TimeValueError(_shift_row(str(exc), where, offset)) from None
            passed_over = True  # only the largest value is bad: its own row, further on, fails
        else:
            if not passed_over:
                yield chunk, ts[:size]
        offset += size
    if passed_over:
        raise AssertionError("unreachable: the largest time is bad, yet its row read well")  # pragma: no cover


def _shift_row(message: str, where: str, by: int) -> str:
    """The message with the row it names counted from the file's first row, not the chunk's."""
    return re.sub(rf"^{re.escape(where)} (\d+):", lambda m: f"{where} {int(m.group(1)) + by}:", message, count=1)


class _SplitsWriter:
    """Appends each chunk's rows to the splits CSV being staged (nothing when there is no data dir)."""

    COLUMNS = ("user_id", "item_id", "ts", "split")

    def __init__(self, target: Path | None):
        self.target, self.handle = target, None

    def __enter__(self) -> "_SplitsWriter":
        if self.target is not None:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.target, "w", newline="")
            pd.DataFrame(columns=list(self.COLUMNS)).to_csv(self.handle, index=False)
        return self

    def write(self, users: list[str], items: list[str], ts: np.ndarray, labels: pd.Series) -> None:
        if self.handle is not None:
            frame = pd.DataFrame(dict(zip(self.COLUMNS, (users, items, ts, [SPLITS[x] for x in labels.tolist()]))))
            frame.to_csv(self.handle, index=False, header=False)

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()


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
