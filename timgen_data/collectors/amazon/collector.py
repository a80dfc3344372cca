"""``collect amazon``: download a category's review (and metadata) file, stream it, store it.

Fetching is :func:`download` (resumable, verified); reading is :mod:`.lines` (gzip,
line by line, constant memory); parsing is :mod:`.parse` (pure). This module writes
chunks of lines, each committed together with a cursor holding the line reached, so a
killed run re-run resumes there, and a finished one re-run adds nothing.

A (user, item) pair reviewed more than once keeps its earliest review. The check runs
against the store, not an in-memory set, so memory stays constant however large the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from timgen_data.collectors.amazon.lines import read_lines
from timgen_data.collectors.amazon.parse import Meta, Review, parse_meta, parse_review
from timgen_data.collectors.amazon.releases import (
    COLLECTOR,
    LICENSE,
    Release,
    check_category,
    get_release,
)
from timgen_data.collectors.archive import LocalFile, ResumablePass, obtain_file
from timgen_data.collectors.report import CollectReport, Rejection
from timgen_data.collectors.save import begin_source, finish_source, namespace_counts, save_interactions
from timgen_data.errors import TimeValueError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import (
    Store,
    fetch_rows,
    ids_of,
    in_clause,
    to_json,
    upsert_rows,
)
from timgen_data.store.assets import add_pending_assets

# Lines per committed chunk; also bounds the ids in one IN (...) list (SQLite allows 32766 parameters).
CHUNK_LINES = 5_000
# What one line's content can make parsing raise (a wrong type, a number too large, a
# time that is not one): that line is rejected, the rest of the file goes on.
_LINE_CONTENT_ERRORS = (ValueError, TypeError, ArithmeticError, RecursionError, TimeValueError)
_ITEM_COLUMNS = ["source", "external_id", "title", "text", "year", "category", "categories", "attributes"]


def collect_amazon(
    store: Store,
    release_name: str,
    category: str,
    *,
    data_dir: Path,
    meta: bool = False,
    base_url: str | None = None,
    from_file: Path | None = None,
    force: bool = False,
    progress: Progress = SILENT,
    chunk_lines: int = CHUNK_LINES,
) -> CollectReport:
    """Collect one category of one Amazon Reviews release into ``store``.

    >>> report = collect_amazon(store, "2023", "All_Beauty", data_dir=Path("timgen-data"), meta=True)  # doctest: +SKIP
    >>> report.written["interactions"]                                                                # doctest: +SKIP
    """
    release = get_release(release_name)
    check_category(category)
    downloads = Path(data_dir) / "downloads" / COLLECTOR / release.name
    local_reviews, local_meta = _local_paths(release, category, from_file)
    reviews = obtain_file(release.review_url(category, base_url), downloads / release.review_file(category),
                          local=local_reviews, force=force, progress=progress)
    metadata = obtain_file(release.meta_url(category, base_url), downloads / release.meta_file(category),
                           local=local_meta, force=force, progress=progress) if meta else None

    namespace = release.namespace
    variant = f"{release.name}/{category}"
    report = CollectReport(COLLECTOR, variant, namespace, str(reviews.url or reviews.path), reviews.sha256,
                           md5=reviews.md5)
    report.read, report.written, report.skipped = {}, {"items": 0, "users": 0, "interactions": 0, "assets": 0}, {}
    with store.begin() as conn:
        source_id = begin_source(conn, collector=COLLECTOR, variant=variant, namespace=namespace, url=reviews.url,
                                 sha256=reviews.sha256, md5=reviews.md5, license=LICENSE)

    if metadata is not None:
        _stream(store, release, metadata, f"{namespace}:meta:{metadata.sha256}", "meta", force, report, progress,
                chunk_lines, lambda conn, rows: _save_meta_chunk(conn, namespace, rows, report),
                lambda obj, where: parse_meta(obj, release))
    _stream(store, release, reviews, f"{namespace}:reviews:{reviews.sha256}", "reviews", force, report, progress,
            chunk_lines, lambda conn, rows: _save_review_chunk(conn, namespace, source_id, rows, report),
            lambda obj, where: parse_review(obj, release, record=where))

    with store.begin() as conn:
        report.stored = namespace_counts(conn, namespace)
        finish_source(conn, source_id, {**report.stored, "rejected": report.rejections.count})
    return report


def _local_paths(release: Release, category: str, from_file: Path | None) -> tuple[Path | None, Path | None]:
    if from_file is None:
        return None, None
    from_file = Path(from_file)
    if from_file.is_dir():
        return from_file / release.review_file(category), from_file / release.meta_file(category)
    return from_file, from_file.parent / release.meta_file(category)


def _stream(
    store: Store, release: Release, file: LocalFile, cursor_key: str, kind: str, force: bool, report: CollectReport,
    progress: Progress, chunk_lines: int, save: Callable[[Connection, list], None],
    parse: Callable[[dict[str, Any], str], Any],
) -> None:
    """Read ``file`` from its cursor on, saving each chunk with the line reached in one transaction."""
    reached = ResumablePass(store, COLLECTOR, cursor_key, force=force)
    done = int(reached.get("lines_done", 0))
    if kind == "reviews":
        report.resumed_from = done
    name = file.path.name
    task = f"read {name}"
    progress.start(task, total=file.path.stat().st_size, unit="B")
    read, position, chunk, last_line = 0, 0, [], done

    def flush() -> None:
        reached.commit({"lines_done": last_line}, lambda conn: save(conn, chunk))
        chunk.clear()

    for line in read_lines(file.path, skip=done, python_literals=release.python_literals):
        read += 1
        last_line = line.number
        progress.advance(task, line.compressed_pos - position)
        position = line.compressed_pos
        if line.error is not None:
            report.rejections.add(Rejection(name, line.number, line.error))
        else:
            try:
                chunk.append(parse(line.value, f"{name}:{line.number}"))
            except _LINE_CONTENT_ERRORS as exc:
                report.rejections.add(Rejection(name, line.number, str(exc) or type(exc).__name__))
        if read % chunk_lines == 0:
            flush()
    if chunk or read % chunk_lines:
        flush()
    progress.finish(task)
    report.read[kind] = read


def _save_meta_chunk(conn: Connection, namespace: str, metas: list[Meta], report: CollectReport) -> None:
    rows = [(namespace, m.item.external_id, m.item.title, m.item.text, None, m.item.category,
             to_json(m.item.categories), to_json(m.item.attributes)) for m in metas]
    report.written["items"] += upsert_rows(conn, "items", _ITEM_COLUMNS, rows,
                                           conflict=["source", "external_id"], update=_ITEM_COLUMNS[2:])
    ids = ids_of(conn, "items", namespace, {m.item.external_id for m in metas})
    planned = [(ids[m.item.external_id], modality, url) for m in metas for modality, url in m.media]
    report.written["assets"] += add_pending_assets(conn, planned)


def _save_review_chunk(conn: Connection, namespace: str, source_id: int, reviews: list[Review],
                       report: CollectReport) -> None:
    earliest: dict[tuple[str, str], Review] = {}
    duplicates = 0
    for review in reviews:
        key = (review.user, review.item)
        if key in earliest:
            duplicates += 1
            if review.ts >= earliest[key].ts:
                continue
        earliest[key] = review
    users = _ensure(conn, "users", namespace, {u for u, _ in earliest}, report)
    items = _ensure(conn, "items", namespace, {i for _, i in earliest}, report)
    # A reviewer's photos show the item, whichever of their reviews is kept.
    photos = [(items[review.item], "image", url) for review in reviews for url in review.images]
    if photos:
        report.written["assets"] += add_pending_assets(conn, photos)
    stored = _stored_comments(conn, list(users.values()), list(items.values()))
    rows: list[tuple] = []
    for (user, item), review in earliest.items():
        user_id, item_id = users[user], items[item]
        before = stored.get((user_id, item_id))
        if before is not None and before <= review.ts:
            duplicates += before < review.ts  # the same review again (a --force re-run) is no duplicate
            continue
        if before is not None:  # an earlier review of the pair turned up later in the file
            duplicates += 1
            # Net counts: the replaced rows leave, so ``written`` stays the number of rows added.
            report.written["interactions"] -= conn.exec_driver_sql(
                "DELETE FROM interactions WHERE user_id = ? AND item_id = ? AND ts = ? AND action IN "
                "('comment', 'purchase')" if conn.dialect.name == "sqlite" else
                "DELETE FROM interactions WHERE user_id = %s AND item_id = %s AND ts = %s AND action IN "
                "('comment', 'purchase')", (user_id, item_id, before)).rowcount
        rows.append((user_id, item_id, review.ts, "comment", review.rating, None, None, None, None, source_id,
                     review.text, to_json(review.attributes) if review.attributes else None))
        if review.verified:
            rows.append((user_id, item_id, review.ts, "purchase", None, None, None, None, None, source_id, None, None))
    report.written["interactions"] += save_interactions(conn, rows)
    report.skipped["duplicate_reviews"] = report.skipped.get("duplicate_reviews", 0) + duplicates


def _ensure(conn: Connection, table: str, namespace: str, external_ids: set[str],
            report: CollectReport) -> dict[str, int]:
    """Ids of these users or items, adding bare rows for unknown ones (metadata, when collected, fills items in)."""
    if table == "users":
        rows: Iterable[tuple] = [(namespace, e, "{}") for e in sorted(external_ids)]
        columns = ["source", "external_id", "attributes"]
    else:
        rows = [(namespace, e, "[]", "{}") for e in sorted(external_ids)]
        columns = ["source", "external_id", "categories", "attributes"]
    report.written[table] += upsert_rows(conn, table, columns, list(rows), conflict=["source", "external_id"])
    return ids_of(conn, table, namespace, external_ids)


def _stored_comments(conn: Connection, user_ids: list[int], item_ids: list[int]) -> dict[tuple[int, int], int]:
    """The earliest stored ``comment`` ts per (user, item) among these users and items."""
    if not user_ids or not item_ids:
        return {}
    users, user_params = in_clause("u", user_ids)
    items, item_params = in_clause("i", item_ids)
    found = fetch_rows(conn, f"SELECT user_id, item_id, MIN(ts) FROM interactions WHERE action = 'comment' "
                             f"AND user_id IN ({users}) AND item_id IN ({items}) GROUP BY user_id, item_id",
                       {**user_params, **item_params})
    return {(u, i): ts for u, i, ts in found}
