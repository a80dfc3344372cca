"""``collect movielens``: obtain a release (download or local), parse it, store it.

Fetching (download, extraction) and parsing are separate pure-ish steps; this module
only orchestrates them and does the saving, in chunks that each commit together with a
cursor, so a run killed at any point resumes and ends with the rows of one clean run.

The ratings file is read twice, a block at a time, so memory does not grow with it: a
first pass checks every line (a bad release stores nothing) and finds the users and
items the catalog lacks, which are stored with the catalog before any rating, so every
id is the same whether a run was interrupted or not; the second pass stores the
ratings. What stays in memory grows with users and items only: their id maps.

A release's tag file (:mod:`.tags`) is checked in the same first pass and stored after the
ratings, in chunks with a cursor of its own, as ``tag`` interactions (:mod:`.tag_store`); each
run then writes the tags of each movie into its text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Connection

from timgen_data.collectors.archive import ResumablePass
from timgen_data.collectors.line_blocks import BLOCK_BYTES
from timgen_data.collectors.movielens.layout import locate_release
from timgen_data.collectors.movielens.ratings import RatingsCheck, check_ratings, read_ratings
from timgen_data.collectors.movielens.tag_store import describe_items_with_tags, save_tag_chunk
from timgen_data.collectors.movielens.tags import TagsCheck, check_tags, read_tags
from timgen_data.collectors.movielens.variants import LICENSE, Variant, get_variant
from timgen_data.collectors.records import ItemRecord, UserRecord
from timgen_data.collectors.report import CollectReport, Rejections
from timgen_data.collectors.save import (
    IdLookup,
    begin_source,
    finish_source,
    namespace_counts,
    save_interactions,
    save_items,
    save_links,
    save_users,
)
from timgen_data.downloads.archive import extract_zip, extracted_matches, single_top_folder
from timgen_data.downloads.checksums import file_digests, folder_digest, parse_md5_file
from timgen_data.downloads.download import download, fetch_text
from timgen_data.errors import ChecksumMismatchError, UsageError
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows, save_rating_scale

COLLECTOR = "movielens"
CHUNK_ROWS = 200_000


@dataclass(frozen=True)
class Release:
    """A release on local disk, with what is known about where it came from."""

    root: Path
    url: str | None
    sha256: str
    md5: str | None
    md5_verified: bool


def obtain_release(
    variant: Variant,
    data_dir: Path,
    *,
    base_url: str | None = None,
    from_file: Path | None = None,
    expected_md5: str | None = None,
    expected_sha256: str | None = None,
    force: bool = False,
    progress: Progress = SILENT,
) -> Release:
    """Download (or take ``from_file``) and extract a release; returns its local folder."""
    if from_file is not None:
        from_file = Path(from_file)
        if not from_file.exists():
            raise UsageError(f"--from-file {from_file} does not exist; give a MovieLens zip or its extracted folder")
        if from_file.is_dir():
            return Release(from_file, None, folder_digest(from_file), None, False)
        sha256, md5 = file_digests(from_file)
        published = (expected_md5 or variant.md5 or "").lower() or None
        _check_local_archive(from_file, variant, md5, published, sha256, expected_sha256,
                             given_md5=expected_md5 is not None)
        archive, url, verified = from_file, None, published is not None
    else:
        url = variant.url(base_url)
        published = expected_md5 or variant.md5
        if published is None and expected_sha256 is None:
            sidecar = fetch_text(url + ".md5")
            published = parse_md5_file(sidecar) if sidecar else None
        result = download(
            url, data_dir / "downloads" / variant.archive, expected_md5=published,
            expected_sha256=expected_sha256, force=force, progress=progress,
        )
        archive, sha256, md5, verified = result.path, result.sha256, result.md5, published is not None
    dest = data_dir / "raw" / COLLECTOR / variant.name
    if force or not extracted_matches(dest, sha256):
        extract_zip(archive, dest, progress=progress)
    return Release(single_top_folder(dest), url, sha256, md5, verified)


def _check_local_archive(path: Path, variant: Variant, md5: str, published: str | None, sha256: str,
                         expected_sha256: str | None, *, given_md5: bool) -> None:
    """Raise :class:`ChecksumMismatchError` when a known checksum says ``path`` is not the release."""
    if published is not None and published != md5:
        whose = "--md5" if given_md5 else f"the published md5 of MovieLens {variant.name}"
        raise ChecksumMismatchError(
            f"--from-file {path} has md5 {md5}, but {whose} is {published}: it is a different or damaged copy. "
            f"Pass --md5 {md5} to accept this copy, or leave out --from-file to download the release. "
            "Nothing was stored.")
    if expected_sha256 is not None and expected_sha256.lower() != sha256:
        raise ChecksumMismatchError(
            f"--from-file {path} has sha256 {sha256}, but --sha256 is {expected_sha256.lower()}: it is a different "
            f"or damaged copy. Pass --sha256 {sha256} to accept this copy, or leave out --from-file to download "
            "the release. Nothing was stored.")


def collect_movielens(
    store: Store,
    variant_name: str,
    *,
    data_dir: Path,
    base_url: str | None = None,
    from_file: Path | None = None,
    expected_md5: str | None = None,
    expected_sha256: str | None = None,
    strict: bool = False,
    force: bool = False,
    progress: Progress = SILENT,
    chunk_rows: int = CHUNK_ROWS,
    block_bytes: int = BLOCK_BYTES,
) -> CollectReport:
    """Collect one MovieLens release into ``store``.

    Memory does not grow with the ratings file: it is read in blocks of ``block_bytes``
    and stored in chunks of ``chunk_rows``.

    >>> report = collect_movielens(store, "100k", data_dir=Path("timgen-data"))  # doctest: +SKIP
    >>> report.stored["interactions"]                                            # doctest: +SKIP
    100000
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    variant = get_variant(variant_name)
    release = obtain_release(
        variant, Path(data_dir), base_url=base_url, from_file=from_file, expected_md5=expected_md5,
        expected_sha256=expected_sha256, force=force, progress=progress,
    )
    files = locate_release(release.root, variant)
    progress.start("parse", total=None)
    catalog = files.parse_catalog(files.folder, strict=strict)
    ratings = check_ratings(files.ratings, strict=strict, block_bytes=block_bytes)
    tags = check_tags(files.tags, strict=strict) if files.tags is not None else None
    progress.finish("parse")

    report = CollectReport(
        COLLECTOR, variant.name, variant.namespace, str(from_file or release.url), release.sha256,
        md5=release.md5, md5_verified=release.md5_verified,
    )
    report.rejections.extend(catalog.rejections)
    report.rejections.extend(ratings.rejections)
    users, items, missing_users, missing_items = _complete_entities(catalog.users, catalog.items, ratings, tags)
    report.read = {"users": len(catalog.users), "items": len(catalog.items), "links": len(catalog.links),
                   "interactions": ratings.rows}
    if tags is not None:
        report.rejections.extend(tags.rejections)
        report.read["tags"] = tags.rows
    report.skipped = {"users_added_from_ratings": missing_users, "items_added_from_ratings": missing_items}

    with store.begin() as conn:
        source_id = begin_source(
            conn, collector=COLLECTOR, variant=variant.name, namespace=variant.namespace, url=release.url,
            sha256=release.sha256, md5=release.md5, license=LICENSE,
        )
        user_ids = IdLookup(save_users(conn, variant.namespace, users))
        item_ids = IdLookup(save_items(conn, variant.namespace, items))
        links = save_links(conn, item_ids.mapping, catalog.links, method="movielens-links")
        save_rating_scale(conn, variant.namespace, *variant.rating_scale)
    del catalog, users, items

    cursor_key = f"{variant.namespace}:{release.sha256}"
    tables = read_ratings(files.ratings, careful=ratings.careful, block_bytes=block_bytes)
    written = _save_ratings(
        store, tables, ratings.rows, user_ids, item_ids, source_id, cursor_key, force, report, progress, chunk_rows
    )
    if tags is not None and files.tags is not None:
        written += _save_tags(store, files.tags, tags.rows, user_ids.mapping, item_ids.mapping, source_id,
                              f"{cursor_key}:tags", force, progress, chunk_rows)
        with store.begin() as conn:
            describe_items_with_tags(conn, variant.namespace)
    report.written = {"interactions": written, "links": links}
    with store.begin() as conn:
        # What the store holds, so a re-run that adds nothing reports the same figures as the first run.
        report.stored = namespace_counts(conn, variant.namespace, ("users", "items", "links", "interactions"))
        report.skipped["duplicates_dropped"] = ratings.rows - _stored_from(conn, source_id)
        finish_source(conn, source_id, {**report.stored, "duplicates_dropped": report.skipped["duplicates_dropped"],
                                        "rejected": report.rejections.count})
    return report


def _complete_entities(
    users: list[UserRecord], items: list[ItemRecord], ratings: RatingsCheck, tags: TagsCheck | None
) -> tuple[list[UserRecord], list[ItemRecord], int, int]:
    """Add users and items that ratings (then tags) mention but the catalog lacks, so no rating or tag is lost."""
    known_users = {u.external_id for u in users}
    known_items = {i.external_id for i in items}
    mentioned_users = {**ratings.users, **(tags.users if tags else {})}
    mentioned_items = {**ratings.items, **(tags.items if tags else {})}
    extra_users = [UserRecord(u, {}) for u in mentioned_users if u not in known_users]
    extra_items = [ItemRecord(i, None, None, [], {}) for i in mentioned_items if i not in known_items]
    return users + extra_users, items + extra_items, len(extra_users), len(extra_items)


def _stored_from(conn: Connection, source_id: int) -> int:
    """Ratings this release put in the store.

    The store's unique key decides what a duplicate is: a rating that repeats an earlier
    one's (user, item, time) is not stored, so the ratings read less these are the
    duplicates dropped, the same figure on every run, resumed or repeated (a row keeps the
    source that stored it first).
    """
    return fetch_rows(conn, "SELECT COUNT(*) FROM interactions WHERE source_id = :s AND action = 'rate'",
                      {"s": source_id})[0][0]


def _save_ratings(
    store: Store, tables: Iterator[pa.Table], total: int, user_ids: IdLookup, item_ids: IdLookup, source_id: int,
    cursor_key: str, force: bool, report: CollectReport, progress: Progress, chunk_rows: int,
) -> int:
    reached = ResumablePass(store, COLLECTOR, cursor_key, force=force)
    done = int(reached.get("rows_done", 0))
    report.resumed_from = done
    if done >= total:
        return 0
    written, end = 0, done
    progress.start("store interactions", total=total, unit="rows")
    progress.advance("store interactions", done)
    for chunk in _chunks(tables, chunk_rows, skip=done):
        rows = list(zip(
            user_ids(chunk["user"]).tolist(), item_ids(chunk["item"]).tolist(), chunk["ts"].to_numpy().tolist(),
            repeat("rate"), chunk["rating"].to_numpy().tolist(),
            repeat(None), repeat(None), repeat(None), repeat(None), repeat(source_id), repeat(None),
        ))
        end += len(rows)
        written += reached.commit({"rows_done": end, "rows_total": total}, lambda conn: save_interactions(conn, rows))
        progress.advance("store interactions", len(rows))
    progress.finish("store interactions")
    return written


def _save_tags(
    store: Store, path: Path, total: int, user_ids: dict[str, int], item_ids: dict[str, int], source_id: int,
    cursor_key: str, force: bool, progress: Progress, chunk_rows: int,
) -> int:
    """Store the file's tags a chunk at a time, each chunk committed with the count of tags done."""
    reached = ResumablePass(store, COLLECTOR, cursor_key, force=force)
    done = int(reached.get("rows_done", 0))
    if done >= total:
        return 0
    written, seen, chunk = 0, 0, []
    progress.start("store tags", total=total, unit="rows")
    progress.advance("store tags", done)

    def flush() -> int:
        added = reached.commit({"rows_done": seen, "rows_total": total},
                               lambda conn: save_tag_chunk(conn, chunk, user_ids, item_ids, source_id))
        progress.advance("store tags", len(chunk))
        chunk.clear()
        return added

    # Rejections were counted by the first pass; this one reads the same file the same way.
    for tag in read_tags(path, rejections=Rejections()):
        seen += 1
        if seen <= done:
            continue
        chunk.append(tag)
        if len(chunk) >= chunk_rows:
            written += flush()
    if chunk:
        written += flush()
    progress.finish("store tags")
    return written


def _chunks(tables: Iterator[pa.Table], size: int, *, skip: int = 0) -> Iterator[pa.Table]:
    """The rows of ``tables`` after the first ``skip``, regrouped into tables of ``size`` rows (the last
    may be shorter), so chunk ends fall where they would in one table, whatever the blocks."""
    pending: list[pa.Table] = []
    held = 0
    for table in tables:
        if skip:
            passed = min(skip, table.num_rows)
            table, skip = table.slice(passed), skip - passed
        if not table.num_rows:
            continue
        pending.append(table)
        held += table.num_rows
        while held >= size:
            joined = pa.concat_tables(pending)
            yield joined.slice(0, size)
            rest = joined.slice(size)
            pending, held = ([rest] if rest.num_rows else []), rest.num_rows
    if held:
        yield pa.concat_tables(pending)
