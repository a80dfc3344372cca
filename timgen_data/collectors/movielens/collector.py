"""``collect movielens``: obtain a release (download or local), parse it, store it.

Fetching (download, extraction) and parsing are separate pure-ish steps; this module
only orchestrates them and does the saving, in chunks that each commit together with a
cursor, so a run killed at any point resumes and ends with the rows of one clean run.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.collectors.archive import extract_zip, extracted_matches, single_top_folder
from timgen_data.collectors.checksums import file_digests, folder_digest, parse_md5_file
from timgen_data.collectors.download import download, fetch_text
from timgen_data.collectors.movielens.layout import locate_release
from timgen_data.collectors.movielens.ratings import duplicate_count, parse_ratings
from timgen_data.collectors.movielens.variants import LICENSE, Variant, get_variant
from timgen_data.collectors.records import ItemRecord, UserRecord
from timgen_data.collectors.report import CollectReport
from timgen_data.collectors.save import (
    begin_source,
    finish_source,
    map_external_ids,
    namespace_counts,
    save_interactions,
    save_items,
    save_links,
    save_users,
)
from timgen_data.errors import ChecksumMismatchError, UsageError
from timgen_data.progress import SILENT, Progress
from timgen_data.store import Store, load_cursor, save_cursor

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
) -> CollectReport:
    """Collect one MovieLens release into ``store``.

    >>> report = collect_movielens(store, "100k", data_dir=Path("timgen-data"))  # doctest: +SKIP
    >>> report.stored["interactions"]                                            # doctest: +SKIP
    100000
    """
    variant = get_variant(variant_name)
    release = obtain_release(
        variant, Path(data_dir), base_url=base_url, from_file=from_file, expected_md5=expected_md5,
        expected_sha256=expected_sha256, force=force, progress=progress,
    )
    files = locate_release(release.root, variant)
    progress.start("parse", total=None)
    catalog = files.parse_catalog(files.folder, strict=strict)
    ratings, rating_rejections = parse_ratings(files.ratings, strict=strict)
    progress.finish("parse")

    report = CollectReport(
        COLLECTOR, variant.name, variant.namespace, str(from_file or release.url), release.sha256,
        md5=release.md5, md5_verified=release.md5_verified,
    )
    report.rejections.extend(catalog.rejections)
    report.rejections.extend(rating_rejections)
    users, items, missing_users, missing_items = _complete_entities(catalog.users, catalog.items, ratings)
    report.read = {"users": len(catalog.users), "items": len(catalog.items), "links": len(catalog.links),
                   "interactions": ratings.num_rows}
    report.skipped = {"users_added_from_ratings": missing_users, "items_added_from_ratings": missing_items,
                      "duplicates_dropped": duplicate_count(ratings)}

    with store.begin() as conn:
        source_id = begin_source(
            conn, collector=COLLECTOR, variant=variant.name, namespace=variant.namespace, url=release.url,
            sha256=release.sha256, md5=release.md5, license=LICENSE,
        )
        user_ids = save_users(conn, variant.namespace, users)
        item_ids = save_items(conn, variant.namespace, items)
        links = save_links(conn, item_ids, catalog.links, method="movielens-links")

    cursor_key = f"{variant.namespace}:{release.sha256}"
    written = _save_ratings(
        store, ratings, user_ids, item_ids, source_id, cursor_key, force, report, progress, chunk_rows
    )
    report.written = {"interactions": written, "links": links}
    with store.begin() as conn:
        # What the store holds, so a re-run that adds nothing reports the same figures as the first run.
        report.stored = namespace_counts(conn, variant.namespace, ("users", "items", "links", "interactions"))
        finish_source(conn, source_id, {**report.stored, "duplicates_dropped": report.skipped["duplicates_dropped"],
                                        "rejected": report.rejections.count})
    return report


def _complete_entities(
    users: list[UserRecord], items: list[ItemRecord], ratings: pa.Table
) -> tuple[list[UserRecord], list[ItemRecord], int, int]:
    """Add users and items that ratings mention but the catalog lacks, so no rating is lost."""
    known_users = {u.external_id for u in users}
    known_items = {i.external_id for i in items}
    rating_users = pc.unique(ratings["user"]).to_pylist()
    rating_items = pc.unique(ratings["item"]).to_pylist()
    extra_users = [UserRecord(u, {}) for u in rating_users if u not in known_users]
    extra_items = [ItemRecord(i, None, None, [], {}) for i in rating_items if i not in known_items]
    return users + extra_users, items + extra_items, len(extra_users), len(extra_items)


def _save_ratings(
    store: Store, ratings: pa.Table, user_ids: dict[str, int], item_ids: dict[str, int], source_id: int,
    cursor_key: str, force: bool, report: CollectReport, progress: Progress, chunk_rows: int,
) -> int:
    with store.begin() as conn:
        cursor = None if force else load_cursor(conn, COLLECTOR, cursor_key)
    done = int(cursor["rows_done"]) if cursor else 0
    report.resumed_from = done
    total = ratings.num_rows
    if done >= total:
        return 0
    users = map_external_ids(ratings["user"], user_ids).tolist()
    items = map_external_ids(ratings["item"], item_ids).tolist()
    ts = ratings["ts"].to_pylist()
    values = ratings["rating"].to_pylist()
    written = 0
    progress.start("store interactions", total=total, unit="rows")
    progress.advance("store interactions", done)
    for start in range(done, total, chunk_rows):
        end = min(start + chunk_rows, total)
        rows = list(zip(
            users[start:end], items[start:end], ts[start:end], repeat("rate"), values[start:end],
            repeat(None), repeat(None), repeat(None), repeat(None), repeat(source_id),
        ))
        # The chunk and the cursor commit together: a kill leaves both or neither.
        with store.begin() as conn:
            written += save_interactions(conn, rows)
            save_cursor(conn, COLLECTOR, cursor_key, {"rows_done": end, "rows_total": total})
        progress.advance("store interactions", end - start)
    progress.finish("store interactions")
    return written
