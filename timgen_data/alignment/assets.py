"""``align assets``: where each item's media comes from, and fetching it into the content store.

Two steps, both resumable:

1. *plan*: one ``assets`` row per (item, modality, uri) with status ``pending``, from
   - the item's own text (``item:text``: title, description, categories),
   - URLs in the item's stored attributes (``image_url``, ``poster``, ``video_url``, …),
   - YouTube links in ``item_links`` (``youtube:<id>``, fetched with yt-dlp),
   - a manifest CSV the user gives (``source,item_id,modality,uri``: a URL or a local file);
2. *fetch*: every pending asset (and failed ones on request) into the content-addressed
   store; each outcome is committed as it lands, so an interrupted run loses nothing and
   a re-run only does what is left. One bad asset never stops the run: it ends ``failed``
   with the reason.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Connection
from sqlalchemy import text as sql

from timgen_data.alignment.content_store import ContentStore
from timgen_data.alignment.fetch import FetchOutcome, fetch_asset
from timgen_data.alignment.links import YOUTUBE
from timgen_data.alignment.modality_handling import probe_media
from timgen_data.alignment.youtube_media import MediaRequest, fetch_media, youtube_url
from timgen_data.downloads.download import client_scope
from timgen_data.errors import AssetError, ConfigError, NothingToDoError
from timgen_data.modalities import MODALITIES, MODALITY_TABLE
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows
from timgen_data.store.assets import FAILED, OK, PENDING, YOUTUBE_SCHEME, add_pending_assets

ITEM_TEXT_URI = "item:text"
MANIFEST_COLUMNS = ("source", "item_id", "modality", "uri")



@dataclass
class AssetReport:
    planned: int = 0  # new asset rows this run
    fetched: int = 0
    reused: int = 0  # bytes already in the store (the same file for another item or uri)
    failed: int = 0
    skipped: int = 0  # already fetched in an earlier run
    failures: list[dict[str, Any]] = field(default_factory=list)
    by_modality: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("planned", "fetched", "reused", "failed", "skipped", "failures",
                                              "by_modality")}


@dataclass(frozen=True)
class _Pending:
    id: int
    item_id: int
    modality: str
    uri: str


# -- planning -------------------------------------------------------------------------------
def read_manifest(path: Path) -> list[dict[str, str]]:
    """Rows of a manifest CSV; a wrong header is an error that shows the expected one."""
    text = Path(path).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ())[:4] != MANIFEST_COLUMNS:
        raise ConfigError(f"{path}: the manifest header must be {','.join(MANIFEST_COLUMNS)}, "
                          f"found {','.join(reader.fieldnames or [])}")
    rows = []
    for line, row in enumerate(reader, start=2):
        if row["modality"] not in MODALITIES:
            raise ConfigError(f"{path} line {line}: modality {row['modality']!r} is not one of {', '.join(MODALITIES)}")
        if not row["uri"]:
            raise ConfigError(f"{path} line {line}: empty uri")
        rows.append(row)
    return rows


def plan_assets(conn: Connection, modalities: Sequence[str], *, manifest: Iterable[dict[str, str]] = (),
                sources: Sequence[str] = ()) -> int:
    """Insert a pending row for every asset not planned before; returns how many were new."""
    wanted = set(sources)
    items = fetch_rows(conn, "SELECT id, source, external_id, title, text, attributes FROM items")
    by_external = {(source, external): item_id for item_id, source, external, *_ in items}
    planned: list[tuple[int, str, str]] = []
    for item_id, source, _external, title, text, attributes in items:
        if wanted and source not in wanted:
            continue
        attrs = json.loads(attributes or "{}")
        for modality in modalities:
            for key in MODALITY_TABLE[modality].metadata_keys:
                for uri in _as_list(attrs.get(key)):
                    planned.append((item_id, modality, uri))
    if {"video", "audio"} & set(modalities):
        for item_id, video_id in fetch_rows(
            conn, "SELECT item_id, target_external_id FROM item_links WHERE target_source = :s", {"s": YOUTUBE}
        ):
            for modality in ("video", "audio"):
                if modality in modalities:
                    planned.append((item_id, modality, YOUTUBE_SCHEME + video_id))
    for row in manifest:
        item_id = by_external.get((row["source"], row["item_id"]))
        if item_id is None:
            raise ConfigError(f"manifest names item {row['source']}:{row['item_id']}, which is not in the store; "
                              "collect it first or fix the manifest")
        if row["modality"] in modalities:
            planned.append((item_id, row["modality"], row["uri"]))
    if "text" in modalities:
        # The item's own text only where no richer description (a URL, a manifest file) exists.
        described = {item_id for item_id, modality, _ in planned if modality == "text"}
        described |= {r[0] for r in fetch_rows(conn, "SELECT DISTINCT item_id FROM assets WHERE modality = 'text'")}
        planned += [(item_id, "text", ITEM_TEXT_URI) for item_id, source, _e, title, text, _a in items
                    if (not wanted or source in wanted) and (title or text) and item_id not in described]
    return add_pending_assets(conn, planned)



def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):  # e.g. {"large": url, "thumb": url}: the largest listed first
        return [v for v in value.values() if isinstance(v, str)][:1]
    if isinstance(value, list):
        return [v for item in value for v in _as_list(item)]
    return []



# -- fetching -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FetchOptions:
    max_bytes: int = 50 * 2**20
    workers: int = 4
    retry_failed: bool = False
    youtube_base_url: str = "https://www.youtube.com"
    rate_limit: int | None = 2 * 2**20  # bytes/s per yt-dlp download
    max_height: int = 360


def collect_assets(store: Store, content: ContentStore, modalities: Sequence[str] = MODALITIES, *,
                   manifest: Iterable[dict[str, str]] = (), sources: Sequence[str] = (),
                   options: FetchOptions = FetchOptions(), client: httpx.Client | None = None,
                   progress: Progress = SILENT) -> AssetReport:
    """Plan and fetch every asset of ``modalities``.

    >>> collect_assets(store, ContentStore(Path("timgen-data/assets")), ["image"]).fetched  # doctest: +SKIP
    1682
    """
    unknown = [m for m in modalities if m not in MODALITIES]
    if unknown:
        raise ConfigError(f"unknown modality {', '.join(unknown)}; choose from {', '.join(MODALITIES)}")
    report = AssetReport()
    with store.begin() as conn:
        if not fetch_rows(conn, "SELECT 1 FROM items LIMIT 1"):
            raise NothingToDoError("no items in the store: collect a source first")
        report.planned = plan_assets(conn, modalities, manifest=manifest, sources=sources)
        todo, report.skipped = _pending(conn, content, modalities, options.retry_failed, sources)
    content.clean_staging()
    progress.start("fetch assets", len(todo), "assets")
    with store.begin() as conn:
        texts = _item_texts(conn, {p.item_id for p in todo if p.uri == ITEM_TEXT_URI})
    # One HTTP client for the whole run (connection reuse; a client per file costs more than the file).
    with client_scope(client) as http:
        pool = ThreadPoolExecutor(max_workers=max(1, options.workers))
        try:
            futures = {pool.submit(_fetch_one, p, content, texts, options, http): p for p in todo}
            for future in as_completed(futures):
                pending = futures[future]
                outcome = future.result()
                with store.begin() as conn:  # one commit per asset: an interrupt keeps everything done so far
                    _record(conn, pending, outcome, content)
                _tally(report, pending, outcome)
                progress.advance("fetch assets")
        finally:
            # On an error or Ctrl-C, drop the queued downloads instead of finishing them all first.
            pool.shutdown(wait=True, cancel_futures=True)
    progress.finish("fetch assets")
    return report


def _pending(conn, content: ContentStore, modalities, retry_failed: bool,
             sources: Sequence[str] = ()) -> tuple[list[_Pending], int]:
    rows = fetch_rows(conn, "SELECT a.id, a.item_id, a.modality, a.uri, a.status, a.local_path, it.source "
                            "FROM assets a JOIN items it ON it.id = a.item_id ORDER BY a.id")
    wanted = set(sources)
    todo, done = [], 0
    for asset_id, item_id, modality, uri, status, local_path, source in rows:
        if modality not in modalities or (wanted and source not in wanted):
            continue
        if status == OK and local_path and (content.root / local_path).exists():
            done += 1
        elif status in (PENDING, OK) or (status == FAILED and retry_failed):
            todo.append(_Pending(asset_id, item_id, modality, uri))  # OK with a missing file: fetch again
        else:
            done += 1
    return todo, done


def _item_texts(conn, item_ids: set[int]) -> dict[int, str]:
    texts = {}
    for item_id, title, text, categories in fetch_rows(conn, "SELECT id, title, text, categories FROM items"):
        if item_id in item_ids:
            genres = ", ".join(json.loads(categories or "[]"))
            texts[item_id] = "\n".join(part for part in (title, text, genres) if part)
    return texts


def _fetch_one(pending: _Pending, content: ContentStore, texts: dict[int, str], options: FetchOptions,
               client: httpx.Client | None) -> FetchOutcome:
    try:
        if pending.uri == ITEM_TEXT_URI:
            return _store_text(texts.get(pending.item_id, ""), content, pending.uri)
        if pending.uri.startswith(YOUTUBE_SCHEME):
            url = youtube_url(pending.uri.removeprefix(YOUTUBE_SCHEME), base_url=options.youtube_base_url)
            return fetch_media(MediaRequest(url, pending.modality), content, max_bytes=options.max_bytes,
                               rate_limit=options.rate_limit, max_height=options.max_height)
        return fetch_asset(pending.uri, content, pending.modality, max_bytes=options.max_bytes, client=client)
    except AssetError as exc:
        return FetchOutcome(FAILED, None, str(exc), pending.uri)


def _store_text(item_text: str, content: ContentStore, uri: str) -> FetchOutcome:
    if not item_text.strip():
        return FetchOutcome(FAILED, None, "the item has no title or text", uri)
    staging = content.staging_path(".txt")
    staging.write_text(item_text, encoding="utf-8")
    return FetchOutcome(OK, content.put_file(staging, mime="text/plain", extension="txt"), None, uri)


def _record(conn: Connection, pending: _Pending, outcome: FetchOutcome, content: ContentStore) -> None:
    now = int(time.time())
    if outcome.status == OK and outcome.blob is not None:
        blob = outcome.blob
        info = probe_media(blob.path, pending.modality)
        values = {"local_path": str(blob.path.relative_to(content.root)), "sha256": blob.sha256, "mime": blob.mime,
                  "bytes": blob.bytes, "width": info.width, "height": info.height, "duration": info.duration,
                  "status": OK, "error": None}
    else:
        values = {"local_path": None, "sha256": None, "mime": None, "bytes": None, "width": None, "height": None,
                  "duration": None, "status": FAILED, "error": outcome.error or "unknown error"}
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    conn.execute(sql(f"UPDATE assets SET {assignments}, updated_at = :now WHERE id = :id"),
                 {**values, "now": now, "id": pending.id})


def _tally(report: AssetReport, pending: _Pending, outcome: FetchOutcome) -> None:
    counts = report.by_modality.setdefault(pending.modality, {"ok": 0, "failed": 0})
    if outcome.status == OK:
        report.fetched += 1
        counts["ok"] += 1
        if outcome.blob is not None and outcome.blob.reused:
            report.reused += 1
    else:
        report.failed += 1
        counts["failed"] += 1
        report.failures.append({"asset_id": pending.id, "modality": pending.modality, "uri": pending.uri,
                                "error": outcome.error})
