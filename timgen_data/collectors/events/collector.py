"""``collect events``: a platform's own logs, mapped by a TOML file, into the store.

The run has three steps so that a mistake stores nothing:

1. every file's columns are checked against the mapping (a missing column is named,
   with the file's columns and first row);
2. under ``on_error = "stop"`` (or ``action.unmapped = "error"``) every row is converted
   once without writing, so a time that does not parse on the last line fails the run
   before the first line is stored;
3. the item file named in ``[items]``, if any, is stored (its items are upserted, so a
   re-run writes the same), then each log file in batches, each committed together with a cursor holding the line
   reached, so a killed run resumes there and a finished one re-run reads nothing. The
   cursor is keyed by the file's sha256 and the mapping's fingerprint: a changed file or
   a changed mapping is read again (stored rows are never duplicated: interactions are
   unique on user, item, time and action).
"""

from __future__ import annotations

import glob
import hashlib
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection

from timgen_data.collectors.events.convert import (
    Converted,
    EventValueError,
    convert_batch,
)
from timgen_data.collectors.events.items import (
    check_item_columns,
    item_file_path,
    read_item_rows,
    save_item_rows,
)
from timgen_data.collectors.events.mapping import EventMapping, MappingError
from timgen_data.collectors.events.read import (
    HEADER_SAMPLE,
    Batch,
    Header,
    detect_format,
    format_from_name,
    headerless_hint,
    position_word,
    read_batches,
    read_header,
    shown_row,
)
from timgen_data.collectors.records import LinkRecord
from timgen_data.collectors.report import CollectReport, Rejection
from timgen_data.collectors.save import (
    begin_source,
    finish_source,
    namespace_counts,
    save_interactions,
    save_links,
)
from timgen_data.downloads.checksums import file_digests
from timgen_data.downloads.download import download
from timgen_data.errors import UsageError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import (
    Store,
    ids_of,
    load_cursor,
    save_cursor,
    save_rating_scale,
    to_json,
    upsert_rows,
)

COLLECTOR = "events"
# Fields every record must hold; the rest may be absent from a JSON record.
REQUIRED_FIELDS = ("user", "item", "time", "action")
BATCH_ROWS = 200_000  # rows per committed batch: a few MB of Python objects, few commits
_GLOB_CHARS = set("*?[")
# How item_links name the links an [item_ids] link makes: the log's own ids, in the target's form.
ITEM_IDS_METHOD = "events-item-ids"


@dataclass(frozen=True)
class EventFile:
    path: Path
    label: str  # how messages name it: the path or URL as given
    url: str | None
    sha256: str
    md5: str
    fmt: str


def collect_events(
    store: Store,
    paths: list[str],
    mapping: EventMapping,
    *,
    data_dir: Path,
    force: bool = False,
    progress: Progress = SILENT,
    batch_rows: int = BATCH_ROWS,
) -> CollectReport:
    """Store the interactions of every log file in ``paths`` (files, folders, globs or URLs).

    >>> mapping = load_mapping(Path("mapping.toml"))                                   # doctest: +SKIP
    >>> collect_events(store, ["logs/*.parquet"], mapping, data_dir=Path("timgen-data"))  # doctest: +SKIP
    """
    files = resolve_inputs(paths, mapping, Path(data_dir) / "downloads" / COLLECTOR, force=force, progress=progress)
    for file in files:
        check_columns(file, mapping)
    items = _item_file(mapping)
    keys = {file.sha256: f"{mapping.namespace}:{file.sha256}:{mapping.fingerprint()}" for file in files}
    if items is not None:
        keys[items.sha256] = f"{mapping.namespace}:items:{items.sha256}:{mapping.fingerprint()}"
    with store.begin() as conn:
        cursors = {sha256: None if force else load_cursor(conn, COLLECTOR, key) for sha256, key in keys.items()}
    pending = [file for file in files if not (cursors[file.sha256] or {}).get("complete")]
    items_pending = items is not None and not (cursors[items.sha256] or {}).get("complete")
    if mapping.on_error == "stop" or mapping.action.unmapped == "error":
        if items_pending and mapping.on_error == "stop":
            for _ in read_item_rows(items.path, mapping, batch_rows):
                pass  # the first bad record raises
        for file in pending:
            _check_values(file, mapping, progress, batch_rows)

    report = _new_report(files, mapping)
    report.skipped["files_already_stored"] = len(files) - len(pending)
    if items_pending:
        _store_items(store, items, mapping, keys[items.sha256], report, batch_rows)
    for file in pending:
        cursor = cursors[file.sha256] or {}
        _store_file(store, file, mapping, keys[file.sha256], int(cursor.get("position", 0)), report, progress,
                    batch_rows)
    with store.begin() as conn:
        report.stored = namespace_counts(conn, mapping.namespace, ("users", "items", "interactions"))
    return report


def resolve_inputs(paths: list[str], mapping: EventMapping, downloads: Path, *, force: bool = False,
                   progress: Progress = SILENT) -> list[EventFile]:
    """Each given path, glob, folder (its log files) or URL (downloaded, resumably) as a local file, once each."""
    if not paths:
        raise UsageError("no log files given; pass --path FILE, a folder, a glob such as 'logs/*.parquet', or a URL")
    files: list[EventFile] = []
    seen: set[str] = set()
    for given in paths:
        for path, label, url, sha256, md5 in _expand(given, downloads, force, progress):
            if sha256 in seen:
                continue  # the same bytes under two names are one log
            seen.add(sha256)
            files.append(EventFile(path, label, url, sha256, md5, detect_format(path, mapping.format)))
    return files


def _expand(given: str, downloads: Path, force: bool, progress: Progress):
    if given.startswith(("http://", "https://")):
        name = given.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or "log"
        # The URL's hash keeps two servers' "events.csv" apart.
        dest = downloads / f"{hashlib.sha256(given.encode()).hexdigest()[:12]}-{name}"
        result = download(given, dest, force=force, progress=progress)
        yield result.path, given, given, result.sha256, result.md5
        return
    if _GLOB_CHARS & set(given):
        matches = sorted(Path(p) for p in glob.glob(given, recursive=True) if Path(p).is_file())
        if not matches:
            raise UsageError(f"{given} matches no file; check the pattern (quote it so the shell leaves it to us)")
    elif Path(given).is_dir():
        matches = sorted(p for p in Path(given).rglob("*") if p.is_file() and format_from_name(p) is not None)
        if not matches:
            raise UsageError(f"folder {given} holds no .csv, .tsv, .dat, .jsonl, .json or .parquet file (gzip or zstd "
                             "allowed)")
    elif Path(given).is_file():
        matches = [Path(given)]
    else:
        raise UsageError(f"{given} does not exist; pass a log file, a folder, a glob or an http(s) URL")
    for path in matches:
        sha256, md5 = file_digests(path)
        yield path, str(path), None, sha256, md5


def _item_file(mapping: EventMapping) -> EventFile | None:
    """The ``[items]`` file, its columns checked against the mapping."""
    if mapping.items is None:
        return None
    path = item_file_path(mapping.items)
    check_item_columns(path, mapping.items)
    sha256, md5 = file_digests(path)
    return EventFile(path, str(path), None, sha256, md5, "csv")


def _store_items(store: Store, file: EventFile, mapping: EventMapping, key: str, report: CollectReport,
                 batch_rows: int) -> None:
    """Every item of the item file, upserted batch by batch (a re-run writes the same), then its cursor."""
    report.read["item_rows"] = 0
    for batch in read_item_rows(file.path, mapping, batch_rows):
        report.read["item_rows"] += batch.read
        for line, reason in batch.rejected:
            report.rejections.add(Rejection(file.label, line, reason))
        with store.begin() as conn:
            before = namespace_counts(conn, mapping.namespace, ("items",))["items"]
            save_item_rows(conn, batch.rows)
            report.written["items"] += namespace_counts(conn, mapping.namespace, ("items",))["items"] - before
            if mapping.item_ids.link is not None:
                ids = ids_of(conn, "items", mapping.namespace, [row[1] for row in batch.rows])
                _save_id_links(conn, mapping, ids)
    with store.begin() as conn:
        save_cursor(conn, COLLECTOR, key, {"complete": True})


def _save_id_links(conn: Connection, mapping: EventMapping, item_ids: dict[str, int]) -> None:
    """Each item's id is its id in ``[item_ids] link`` (an IMDb tconst, say): a direct link ``align links`` trusts."""
    target = mapping.item_ids.link
    save_links(conn, item_ids, [LinkRecord(item, target, item) for item in item_ids], method=ITEM_IDS_METHOD)


def check_columns(file: EventFile, mapping: EventMapping) -> None:
    """Raise :class:`MappingError` when the mapping names a column ``file`` does not have."""
    header = read_header(file.path, file.fmt, mapping.delimiter, names=mapping.names, encoding=mapping.encoding)
    if file.fmt == "jsonl" and header.first_row is None:
        return  # an empty log has no keys to check
    error = missing_columns_error(file.label, file.fmt, header, mapping)
    if error is not None:
        raise error


def missing_columns_error(label: str, fmt: str, header: Header, mapping: EventMapping) -> MappingError | None:
    """The error naming the mapping's columns ``header`` lacks (shared with the Spark engine), or None."""
    used = mapping.columns.used()
    if fmt == "jsonl":
        # A JSON record leaves out keys it has no value for: an optional key may first appear late in the
        # file, so only the keys every record needs are checked here; the rest once the file is read.
        used = {f: c for f, c in used.items() if f in REQUIRED_FIELDS}
    missing = [(field, column) for field, column in used.items() if column not in header.columns]
    if not missing:
        return None
    wanted = ", ".join(f"columns.{field} = {column!r}" for field, column in missing)
    hint, fix = "", "fix the column name in the mapping's [columns]"
    if fmt == "csv" and len(header.columns) == 1 and len(header.columns[0]) > 1:
        hint = (f" (the header reads as one column: is the delimiter right? the mapping says "
                f"{mapping.delimiter!r})")
    elif fmt == "csv" and (hint := headerless_hint(header, list(used.values()), mapping.names, "names")):
        fix = "add names to the mapping"
    where = f" (the keys of its first {HEADER_SAMPLE:,} records)" if fmt == "jsonl" else ""
    return MappingError(
        f"{label}: the mapping's {wanted} names no column of this file{hint}; its columns{where} are "
        f"{', '.join(map(repr, header.columns)) or '(none)'}; first row: {shown_row(header.first_row)}; "
        f"{fix}. Nothing was stored.")


def _check_values(file: EventFile, mapping: EventMapping, progress: Progress, batch_rows: int) -> None:
    """Convert every row of ``file`` without storing, raising at the first value that does not fit."""
    task = f"check {file.path.name}"
    progress.start(task, total=file.path.stat().st_size, unit="B")
    reached = 0
    unseen: frozenset[str] = frozenset()
    for batch in read_batches(file.path, file.fmt, mapping.columns.used(), delimiter=mapping.delimiter,
                              names=mapping.names, encoding=mapping.encoding, batch_rows=batch_rows):
        _convert(batch, file, mapping)
        progress.advance(task, batch.done_bytes - reached)
        reached = batch.done_bytes
        unseen = batch.unseen
    progress.finish(task)
    if unseen:
        wanted = ", ".join(f"columns.{f} = {c!r}" for f, c in mapping.columns.used().items() if c in unseen)
        raise MappingError(f"{file.label}: the mapping's {wanted} names a key no record of this file holds; fix the "
                           "key in the mapping's [columns]. Nothing was stored.")


def _convert(batch: Batch, file: EventFile, mapping: EventMapping) -> Converted:
    word = position_word(file.fmt)
    if batch.malformed and mapping.on_error == "stop":
        position, reason = batch.malformed[0]
        raise EventValueError(f"{file.label} {word} {position} {reason}; fix the file, or set on_error = \"skip\" "
                              "in the mapping to reject such records. Nothing was stored.")
    return convert_batch(batch, mapping, file.label, word)


def _store_file(store: Store, file: EventFile, mapping: EventMapping, key: str, done: int, report: CollectReport,
                progress: Progress, batch_rows: int) -> None:
    with store.begin() as conn:
        source_id = begin_source(conn, collector=COLLECTOR, variant=mapping.name, namespace=mapping.namespace,
                                 url=file.url or str(file.path.resolve()), sha256=file.sha256, md5=file.md5,
                                 license=None)
    report.resumed_from = max(report.resumed_from, done)
    task = f"store {file.path.name}"
    progress.start(task, total=file.path.stat().st_size, unit="B")
    reached_bytes, reached = 0, done
    unseen: frozenset[str] = frozenset()
    for batch in read_batches(file.path, file.fmt, mapping.columns.used(), delimiter=mapping.delimiter,
                              names=mapping.names, encoding=mapping.encoding, batch_rows=batch_rows):
        converted = _convert(batch, file, mapping)
        last = max([reached, *batch.positions.tolist()[-1:], *(p for p, _ in batch.malformed)])
        if last > done:
            rows = converted.frame[converted.frame["position"] > done]
            report.read["rows"] = report.read.get("rows", 0) + int((batch.positions > done).sum()) + sum(
                p > done for p, _ in batch.malformed)
            for position, reason in sorted([*batch.malformed, *converted.rejected]):
                if position > done:
                    report.rejections.add(Rejection(file.label, position, reason))
            for position, value in converted.unmapped:
                if position > done:
                    name = f"action {value!r} not mapped"
                    report.skipped[name] = report.skipped.get(name, 0) + 1
            # The batch and the cursor commit together: a kill leaves both or neither.
            with store.begin() as conn:
                _save_rows(conn, rows, mapping, source_id, report)
                save_cursor(conn, COLLECTOR, key, {"position": last, "complete": False})
            reached = last
        progress.advance(task, batch.done_bytes - reached_bytes)
        reached_bytes = batch.done_bytes
        unseen = batch.unseen
    progress.finish(task)
    for field, column in mapping.columns.used().items():
        if column in unseen:  # only reached without the value check (on_error and unmapped both "skip")
            report.skipped[f"columns.{field} = {column!r}: no record holds it"] = 1
    with store.begin() as conn:
        save_cursor(conn, COLLECTOR, key, {"position": reached, "complete": True})
        finish_source(conn, source_id, {"last_position": reached, "rejected": report.rejections.count})


def _save_rows(conn: Connection, rows: pd.DataFrame, mapping: EventMapping, source_id: int,
               report: CollectReport) -> None:
    if rows.empty:
        return
    ns = mapping.namespace
    users = list(dict.fromkeys(rows["user"]))
    report.written["users"] += upsert_rows(conn, "users", ["source", "external_id", "attributes"],
                                           [(ns, u, "{}") for u in users], conflict=["source", "external_id"])
    items = list(dict.fromkeys(rows["item"]))
    report.written["items"] += upsert_rows(conn, "items", ["source", "external_id", "categories", "attributes"],
                                           [(ns, i, "[]", "{}") for i in items], conflict=["source", "external_id"])
    _update_items(conn, rows, ns)
    item_map = ids_of(conn, "items", ns, items)
    if mapping.item_ids.link is not None:
        _save_id_links(conn, mapping, item_map)
    if mapping.rating_scale is not None:
        save_rating_scale(conn, ns, *mapping.rating_scale)
    user_ids = rows["user"].map(ids_of(conn, "users", ns, users)).tolist()
    item_ids = rows["item"].map(item_map).tolist()
    interactions = list(zip(
        user_ids, item_ids, rows["ts"].tolist(), rows["action"].tolist(), _nullable(rows["value"]),
        _nullable(rows["duration"]), rows["device"].tolist(), rows["platform"].tolist(), rows["geo"].tolist(),
        [source_id] * len(rows), rows["text"].tolist(), repeat(None), _nullable_ints(rows["utc_offset"])))
    written = save_interactions(conn, interactions)
    report.written["interactions"] += written
    report.skipped["duplicates"] = report.skipped.get("duplicates", 0) + len(interactions) - written


def _update_items(conn: Connection, rows: pd.DataFrame, ns: str) -> None:
    """Titles and categories the log carries; the last one given in a batch wins, a missing one erases nothing."""
    for column, update in (("title", ["title"]), ("category", ["category", "categories"])):
        given = rows[rows[column].notna()].drop_duplicates("item", keep="last")
        if given.empty:
            continue
        if column == "title":
            records = [(ns, i, t, "[]", "{}") for i, t in zip(given["item"], given["title"])]
            columns = ["source", "external_id", "title", "categories", "attributes"]
        else:
            records = [(ns, i, c, to_json([c]), "{}") for i, c in zip(given["item"], given["category"])]
            columns = ["source", "external_id", "category", "categories", "attributes"]
        upsert_rows(conn, "items", columns, records, conflict=["source", "external_id"], update=update)


def _nullable_ints(numbers: pd.Series) -> list[int | None]:
    return [None if pd.isna(n) else int(n) for n in numbers]


def _nullable(numbers: pd.Series) -> list[float | None]:
    """Floats with None for NaN: drivers store NaN as a number (PostgreSQL) or refuse it."""
    return numbers.astype(object).where(numbers.notna(), None).tolist()


def _new_report(files: list[EventFile], mapping: EventMapping) -> CollectReport:
    if len(files) == 1:
        archive, sha256, md5 = files[0].label, files[0].sha256, files[0].md5
    else:
        archive = f"{files[0].label} and {len(files) - 1} more"
        sha256 = hashlib.sha256("".join(f.sha256 for f in files).encode()).hexdigest()
        md5 = None
    report = CollectReport(COLLECTOR, mapping.name, mapping.namespace, archive, sha256, md5=md5)
    report.read = {"files": len(files), "rows": 0}
    report.written = {"users": 0, "items": 0, "interactions": 0}
    report.skipped = {"duplicates": 0}
    return report
