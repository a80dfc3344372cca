"""``align features``: decode fetched assets and encode them, one vector per (asset, encoder).

Incremental by construction: only assets without a vector for this encoder key (name and
version) are touched, and identical bytes (the same sha256 under another item or URL) are
encoded once. Each batch is committed as it is done, so an interrupted run keeps its work.
An asset whose bytes do not decode ends ``failed`` with the reason; the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, text

from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.encoders.base import Encoder, encoder_key
from timgen_data.alignment.modality_handling import VIDEO_SIZE, decode_asset
from timgen_data.errors import DecodeError, NothingToDoError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, upsert_rows


@dataclass
class ModalityFeatures:
    encoder: str
    dim: int
    computed: int = 0  # vectors the encoder produced this run
    copied: int = 0  # assets whose bytes were encoded before (same sha256): vector reused
    already: int = 0  # assets that had a vector for this encoder before the run
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class FeatureReport:
    modalities: dict[str, ModalityFeatures] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {m: vars(f) for m, f in self.modalities.items()}


def compute_features(store: Store, content: ContentStore, encoders: Mapping[str, Encoder], *, batch_size: int = 32,
                     decode_workers: int = 2, progress: Progress = SILENT) -> FeatureReport:
    """Vectors for every fetched asset of each modality in ``encoders`` that lacks one.

    >>> compute_features(store, content, {"image": get_encoder("classic", "image")})  # doctest: +SKIP
    """
    report = FeatureReport()
    with store.begin() as conn:
        if not fetch_rows(conn, "SELECT 1 FROM assets WHERE status = 'ok' LIMIT 1"):
            raise NothingToDoError("no fetched assets: run `timgen-data align assets` first")
    for modality, encoder in encoders.items():
        report.modalities[modality] = _encode_modality(store, content, modality, encoder, batch_size, decode_workers,
                                                       progress)
    return report


def _encode_modality(store, content, modality, encoder: Encoder, batch_size, decode_workers, progress) -> ModalityFeatures:
    key = encoder_key(encoder)
    result = ModalityFeatures(encoder=key, dim=encoder.dim)
    started = time.perf_counter()
    with store.begin() as conn:
        todo, result.already = _todo(conn, modality, key)
        known = _known_vectors(conn, modality, key)
    # Identical bytes under several assets: encode one, store the vector for each.
    by_sha: dict[str, list[tuple[int, str]]] = {}
    for asset_id, local_path, sha in todo:
        by_sha.setdefault(sha, []).append((asset_id, local_path))
    copies = [(asset_id, key, encoder.dim, known[sha]) for sha, assets in by_sha.items() if sha in known
              for asset_id, _ in assets]
    if copies:
        with store.begin() as conn:
            _write(conn, copies)
        result.copied = len(copies)
    work = [(sha, assets) for sha, assets in by_sha.items() if sha not in known]
    # Frame size is the encoder's to choose: the paper's video Transformers want 224 px, the
    # classic statistics are as good at a quarter of the pixels.
    frame_size = getattr(encoder, "frame_size", VIDEO_SIZE)
    task = f"encode {modality} ({encoder.name})"
    progress.start(task, len(work), "files")
    with ThreadPoolExecutor(max_workers=max(1, decode_workers)) as pool:
        for start in range(0, len(work), batch_size):
            chunk = work[start:start + batch_size]
            decoded = list(pool.map(lambda entry: _decode(content, entry[1][0][1], modality, frame_size), chunk))
            ok = [(entry, value) for entry, (value, error) in zip(chunk, decoded) if error is None]
            failed = [(entry, error) for entry, (value, error) in zip(chunk, decoded) if error is not None]
            rows = []
            if ok:
                vectors = np.asarray(encoder.encode([value for _, value in ok]), dtype=np.float32)
                for ((_sha, assets), _), vector in zip(ok, vectors):
                    blob = np.ascontiguousarray(vector).tobytes()
                    rows += [(asset_id, key, encoder.dim, blob) for asset_id, _ in assets]
            with store.begin() as conn:  # one commit per batch
                _write(conn, rows)
                for (_sha, assets), error in failed:
                    _mark_failed(conn, [asset_id for asset_id, _ in assets], error)
            result.computed += len(ok)
            result.failed += sum(len(assets) for (_, assets), _ in failed)
            result.failures += [{"asset_id": asset_id, "error": error} for (_, assets), error in failed
                                for asset_id, _ in assets]
            progress.advance(task, len(chunk))
    progress.finish(task)
    result.seconds = time.perf_counter() - started
    return result


def _todo(conn: Connection, modality: str, key: str) -> tuple[list[tuple[int, str, str]], int]:
    rows = fetch_rows(
        conn,
        "SELECT a.id, a.local_path, a.sha256, f.asset_id FROM assets a "
        "LEFT JOIN features f ON f.asset_id = a.id AND f.encoder = :key "
        "WHERE a.modality = :m AND a.status = 'ok' ORDER BY a.id",
        {"key": key, "m": modality},
    )
    todo = [(asset_id, path, sha) for asset_id, path, sha, done in rows if done is None]
    return todo, len(rows) - len(todo)


def _known_vectors(conn: Connection, modality: str, key: str) -> dict[str, bytes]:
    """Vectors already stored under ``key`` for bytes that a pending asset of ``modality`` shares:
    only those, not every vector of the encoder (a store can hold millions)."""
    rows = fetch_rows(
        conn,
        "SELECT DISTINCT p.sha256, f.vector FROM assets p "
        "JOIN assets a ON a.sha256 = p.sha256 AND a.id <> p.id "
        "JOIN features f ON f.asset_id = a.id AND f.encoder = :key "
        "LEFT JOIN features done ON done.asset_id = p.id AND done.encoder = :key "
        "WHERE p.modality = :m AND p.status = 'ok' AND done.asset_id IS NULL",
        {"key": key, "m": modality},
    )
    return {sha: bytes(vector) for sha, vector in rows if sha}


def _decode(content: ContentStore, local_path: str, modality: str, frame_size: int) -> tuple[Any, str | None]:
    try:
        return decode_asset(content.root / local_path, modality, frame_size=frame_size), None
    except DecodeError as exc:
        return None, str(exc)


def _write(conn: Connection, rows: list[tuple[int, str, int, bytes]]) -> None:
    upsert_rows(conn, "features", ["asset_id", "encoder", "dim", "vector"], rows,
                conflict=["asset_id", "encoder"], update=["dim", "vector"])


def _mark_failed(conn: Connection, asset_ids: list[int], error: str) -> None:
    for asset_id in asset_ids:
        conn.execute(text("UPDATE assets SET status = 'failed', error = :e, updated_at = :t WHERE id = :id"),
                     {"e": f"does not decode: {error}", "t": int(time.time()), "id": asset_id})
