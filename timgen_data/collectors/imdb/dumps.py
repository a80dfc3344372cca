"""``collect imdb --dumps``: IMDb's official TSV dumps into items.

Fetch: each ``<name>.tsv.gz`` is downloaded (resumable, retried) into
``<data dir>/downloads/imdb/`` or taken from ``--from-file DIR``. Parse: the files are
streamed line by line (``tsv``). Save: rows go to the store in chunks, each chunk
committed together with a cursor (the line reached), so memory stays constant on the
real ~11M-line file and a killed run resumes after its last committed chunk.

title.basics is stored before title.ratings whatever order they are asked in:
ratings are merged into the attributes of titles already in the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from timgen_data.collectors.archive import ResumablePass
from timgen_data.collectors.imdb.names import COLLECTOR, DEFAULT_TITLE_TYPES, DUMPS, DUMPS_LICENSE, DUMPS_URL, NAMESPACE
from timgen_data.collectors.imdb.raw import public_url
from timgen_data.collectors.imdb.store import merge_items, update_attributes
from timgen_data.collectors.imdb.tsv import RATING_KEYS, iter_title_ratings, title_record
from timgen_data.collectors.records import ItemRecord
from timgen_data.collectors.report import MAX_KEPT_REJECTIONS, CollectReport, Rejection, Rejections
from timgen_data.collectors.save import begin_source, finish_source
from timgen_data.downloads.checksums import file_digests
from timgen_data.downloads.download import download
from timgen_data.errors import UsageError
from timgen_data.imdb_basics import BasicsReadReport, iter_title_basics
from timgen_common.progress import SILENT, Progress
from timgen_data.store import Store, fetch_rows

CHUNK_ROWS = 50_000
MALFORMED_BASICS = "malformed line: wrong number of fields, or startYear/runtimeMinutes/isAdult not a number"


@dataclass(frozen=True)
class DumpFile:
    name: str  # "title.basics"
    path: Path
    url: str | None  # None when taken from --from-file
    sha256: str
    md5: str

    @property
    def file_name(self) -> str:
        return self.path.name


def collect_imdb_dumps(
    store: Store,
    dumps: Sequence[str] = DUMPS,
    *,
    data_dir: Path,
    base_url: str | None = None,
    from_file: Path | None = None,
    title_types: Sequence[str] = DEFAULT_TITLE_TYPES,
    force: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress = SILENT,
) -> CollectReport:
    """Collect title.basics and/or title.ratings into items of the ``imdb`` namespace.

    >>> collect_imdb_dumps(store, ["title.basics", "title.ratings"], data_dir=Path("timgen-data"))  # doctest: +SKIP
    """
    wanted = _check_dumps(dumps)
    types = tuple(dict.fromkeys(t.strip() for t in title_types if t.strip()))
    if not types:
        raise UsageError("--title-types is empty; give title types such as movie,tvMovie")
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    files = [obtain_dump(name, Path(data_dir), base_url=base_url, from_file=from_file, force=force, progress=progress)
             for name in wanted]
    archive = str(from_file) if from_file else public_url((base_url or DUMPS_URL).rstrip("/"))
    report = CollectReport(
        COLLECTOR, "+".join(wanted), NAMESPACE, archive,
        files[0].sha256 if len(files) == 1 else _combined_sha(files),
        md5=files[0].md5 if len(files) == 1 else None,
    )
    basics_key = None
    for dump in files:
        if dump.name == "title.basics":
            basics_key = _store_basics(store, dump, types, force, chunk_rows, report, progress)
        else:
            _store_ratings(store, dump, basics_key, force, chunk_rows, report, progress)
    with store.begin() as conn:
        stored = fetch_rows(conn, "SELECT COUNT(*) FROM items WHERE source = :s", {"s": NAMESPACE})[0][0]
    report.stored = {"items": stored}
    return report


def obtain_dump(
    name: str, data_dir: Path, *, base_url: str | None = None, from_file: Path | None = None,
    force: bool = False, progress: Progress = SILENT,
) -> DumpFile:
    """The dump's local file: downloaded to ``<data dir>/downloads/imdb/`` or found in ``from_file``."""
    if from_file is not None:
        folder = Path(from_file)
        if not folder.is_dir():
            raise UsageError(f"--from-file {folder} is not a folder; give the folder holding {name}.tsv.gz")
        for candidate in (folder / f"{name}.tsv.gz", folder / f"{name}.tsv"):
            if candidate.is_file():
                sha256, md5 = file_digests(candidate)
                return DumpFile(name, candidate, None, sha256, md5)
        raise UsageError(f"--from-file {folder} has no {name}.tsv.gz (or {name}.tsv); download it from {DUMPS_URL}")
    url = f"{(base_url or DUMPS_URL).rstrip('/')}/{name}.tsv.gz"
    # IMDb publishes no checksums; the file is re-fetched only with --force (it changes daily).
    result = download(url, data_dir / "downloads" / COLLECTOR / f"{name}.tsv.gz", force=force, progress=progress)
    # A mirror's login (user:password@) is used to download, never stored or reported.
    return DumpFile(name, result.path, public_url(url), result.sha256, result.md5)


def _check_dumps(dumps: Sequence[str]) -> list[str]:
    asked = [d.strip().removesuffix(".tsv.gz") for d in dumps if d.strip()]
    unknown = [d for d in asked if d not in DUMPS]
    if unknown or not asked:
        raise UsageError(f"unknown IMDb dump {', '.join(unknown) or '(none given)'}; choose from {', '.join(DUMPS)}")
    return [d for d in DUMPS if d in asked]  # basics first: ratings merge into its items


def _combined_sha(files: list[DumpFile]) -> str:
    return hashlib.sha256("".join(f"{f.name}:{f.sha256}\n" for f in files).encode()).hexdigest()


def _store_basics(
    store: Store, dump: DumpFile, types: tuple[str, ...], force: bool, chunk_rows: int,
    report: CollectReport, progress: Progress,
) -> str:
    key = f"title.basics:{dump.sha256}:{','.join(sorted(types))}"
    with store.begin() as conn:
        source_id = begin_source(conn, collector=COLLECTOR, variant=dump.name, namespace=NAMESPACE, url=dump.url,
                                 sha256=dump.sha256, md5=dump.md5, license=DUMPS_LICENSE)
    reached = ResumablePass(store, COLLECTOR, key, force=force)
    done = int(reached.get("data_lines", 0))
    report.resumed_from = done
    if reached.complete:
        report.skipped["title_basics_already_stored"] = done
        return key
    read = BasicsReadReport(max_examples=MAX_KEPT_REJECTIONS)
    task = "store title.basics"
    progress.start(task, total=None, unit="lines")
    written = kept = 0
    chunk: list[ItemRecord] = []
    reported = 0

    def commit(complete: bool) -> None:
        nonlocal written, reported
        written += reached.commit({"data_lines": read.lines, "complete": complete},
                                  lambda conn: len(merge_items(conn, NAMESPACE, chunk)) if chunk else 0)
        chunk.clear()
        progress.advance(task, read.lines - reported)
        reported = read.lines

    for title in iter_title_basics(dump.path, read, types=frozenset(types)):
        if read.lines <= done:
            continue  # stored by an earlier, interrupted run
        chunk.append(title_record(title))
        kept += 1
        if len(chunk) >= chunk_rows:
            commit(complete=False)
    commit(complete=True)
    progress.finish(task)
    rejections = Rejections(read.skipped, [Rejection(dump.file_name, n, MALFORMED_BASICS) for n in read.skipped_lines])
    report.rejections.extend(rejections)
    report.read["title.basics lines"] = read.lines
    report.read["titles"] = read.titles
    report.written["items"] = written
    report.skipped["other_title_types"] = read.lines - read.titles - read.skipped
    with store.begin() as conn:
        finish_source(conn, source_id, {"lines": read.lines, "titles": read.titles, "rejected": read.skipped,
                                        "title_types": list(types)})
    return key


def _store_ratings(
    store: Store, dump: DumpFile, basics_key: str | None, force: bool, chunk_rows: int,
    report: CollectReport, progress: Progress,
) -> None:
    # Ratings merge into the items stored so far; a new title.basics run means new items to rate.
    key = f"title.ratings:{dump.sha256}:{basics_key or 'store'}"
    with store.begin() as conn:
        source_id = begin_source(conn, collector=COLLECTOR, variant=dump.name, namespace=NAMESPACE, url=dump.url,
                                 sha256=dump.sha256, md5=dump.md5, license=DUMPS_LICENSE)
    reached = ResumablePass(store, COLLECTOR, key, force=force)
    start_line = int(reached.get("line", 1))
    if reached.complete:
        report.skipped["title_ratings_already_stored"] = start_line - 1
        return
    if reached.position:
        report.resumed_from = report.resumed_from or start_line - 1
    rejections = Rejections()
    task = "store title.ratings"
    progress.start(task, total=None, unit="lines")
    rows = updated = unknown = 0
    chunk: dict[str, dict[str, float | int | None]] = {}
    line = start_line

    def commit(complete: bool) -> None:
        nonlocal updated, unknown, start_line
        changed = reached.commit({"line": line, "complete": complete},
                                 lambda conn: update_attributes(conn, NAMESPACE, chunk) if chunk else 0)
        updated += changed
        unknown += len(chunk) - changed
        chunk.clear()
        progress.advance(task, line - start_line)
        start_line = line

    for row in iter_title_ratings(dump.path, rejections, start_line=start_line):
        rows += 1
        chunk[row.tconst] = dict(zip(RATING_KEYS, (row.average, row.votes)))
        line = row.line
        if len(chunk) >= chunk_rows:
            commit(complete=False)
    commit(complete=True)
    progress.finish(task)
    report.rejections.extend(rejections)
    report.read["ratings"] = rows
    report.written["ratings"] = updated
    report.skipped["ratings_of_titles_not_stored"] = unknown
    with store.begin() as conn:
        finish_source(conn, source_id, {"ratings": rows, "merged": updated, "rejected": rejections.count})
