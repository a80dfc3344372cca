"""The runner every API source goes through: its ``sources`` row, the raw log of a live run,
``--load`` replay of such a log, cursors, rejections and the report.

A source plugs in what is its own (see ``ApiSource``): its registry name and namespace, the
report it keeps, and ``apply``, which parses one raw response (purely) and stores the records
with the cursor they advance. Live runs page through the source's own requests and hand each
answer to ``ApiRun.commit`` right after the log has it; a replay hands ``apply`` the logged
answers in order. What is stored therefore depends only on the answers, so ``--load`` of a
log gives the store the live runs gave.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection

from timgen_common.progress import SILENT, Progress
from timgen_data.collectors.api.cursors import Cursors
from timgen_data.collectors.api.raw_log import RawLog, RawResponse, read_log
from timgen_data.collectors.report import CollectReport, Rejection
from timgen_data.collectors.save import begin_source, finish_source, namespace_counts
from timgen_data.downloads.checksums import file_digests
from timgen_data.errors import RateLimitError, UsageError
from timgen_data.store import Store, models, to_json

LOAD_VARIANT = "load"  # the variant of a replayed file that names no run of its own


def raw_path(data_dir: Path, collector: str, run_key: str) -> Path:
    """Where live runs of one request append their raw responses."""
    return Path(data_dir) / "raw" / collector / f"{run_key}.jsonl"


def spec_sha256(spec: dict[str, Any]) -> str:
    """The sha256 of a request spec's canonical JSON: what keys its ``sources`` row."""
    return hashlib.sha256(to_json(spec).encode("utf-8")).hexdigest()


class ApiSource(Protocol):
    """What a source brings to the runner."""

    collector: str  # its registry name: the raw folder, ``sources.collector``, its cursors
    namespace: str  # where its users and items go in the store
    license: str | None

    def new_report(self, variant: str, url: str, sha256: str) -> CollectReport: ...

    def apply(self, run: ApiRun, conn: Connection, response: RawResponse) -> Any:
        """Parse ``response`` and store its records (and the cursor they advance) through ``conn``."""


@dataclass
class ApiRun:
    """One run's state, shared by the runner and the source's ``apply``."""

    source: ApiSource
    report: CollectReport
    raw_name: str  # the log's file name, which rejections cite with a line number
    cursors: Cursors
    source_id: int | None = None
    log: RawLog | None = None  # live runs only

    def reject(self, line: int, reason: str) -> None:
        self.report.rejections.add(Rejection(self.raw_name, line, reason))


class ApiRunner:
    """Runs one API source against a store, live or from a log."""

    def __init__(self, store: Store, source: ApiSource, *, progress: Progress = SILENT,
                 task: str = "API pages") -> None:
        self.store, self.source, self.progress, self.task = store, source, progress, task

    def commit(self, run: ApiRun, *responses: RawResponse) -> list[Any]:
        """Apply ``responses`` in one transaction (a page with the pages it depends on: all or nothing)."""
        with self.store.begin() as conn:
            return [self.source.apply(run, conn, response) for response in responses]

    @contextmanager
    def live(self, *, data_dir: Path, run_key: str, spec: dict[str, Any], variant: str, url: str,
             started_at: int, secret: str | None = None) -> Iterator[ApiRun]:
        """A live run: its ``sources`` row and its log, opened with a run line and closed with
        the run's status. A ``RateLimitError`` from the body closes the run as stopped and
        carries the partial report out."""
        path = raw_path(data_dir, self.source.collector, run_key)
        run = self._new_run(variant, url, spec_sha256(spec), path.name)
        self.progress.start(self.task, total=None, unit="pages")
        with RawLog(path, secret) as log:
            run.log = log
            log.start_run(spec, url, started_at)
            try:
                yield run
            except RateLimitError as exc:
                self._close(run, "stopped")
                exc.report = run.report
                raise
        self.progress.finish(self.task)
        self._close(run, "complete")

    def replay(self, path: Path) -> CollectReport:
        """Store what a log holds, in order, through the same ``apply`` as live runs.

        Each run line opens that run's ``sources`` row; a hand-written file without run lines
        is one run named by the file's own checksum. Lines that hold no response are rejected
        with their number and passed over.
        """
        path = Path(path)
        if not path.is_file():
            raise UsageError(f"--load {path} is not a file; give a raw file from "
                             f"<data dir>/raw/{self.source.collector}/")
        run: ApiRun | None = None
        self.progress.start(self.task, total=None, unit="responses")
        for entry in read_log(path):
            if entry.run is not None:
                spec = entry.run.get("spec") if isinstance(entry.run.get("spec"), dict) else {}
                variant = str(spec.get("kind", LOAD_VARIANT))
                if run is not None and run.source_id is not None:
                    self._finish(run, "complete")
                if run is None:
                    run = self._new_run(variant, str(path), spec_sha256(spec), path.name, begin=False)
                run.source_id = self._begin(variant, entry.run.get("url"), spec_sha256(spec))
                continue
            if run is None:  # a hand-written file without run lines: the file itself names the run
                digest, _md5 = file_digests(path)  # read in blocks: a replay file can be large
                run = self._new_run(LOAD_VARIANT, str(path), digest, path.name, begin=False)
                run.source_id = self._begin(LOAD_VARIANT, None, digest)
            if entry.response is None:
                run.reject(entry.line, str(entry.problem))
                continue
            self.commit(run, entry.response)
            self.progress.advance(self.task)
        self.progress.finish(self.task)
        if run is None:
            raise UsageError(f"--load {path} holds no responses")
        self._close(run, "complete")
        return run.report

    # -- the run's sources row -------------------------------------------------------------
    def _new_run(self, variant: str, url: str, sha256: str, raw_name: str, *, begin: bool = True) -> ApiRun:
        run = ApiRun(self.source, self.source.new_report(variant, url, sha256), raw_name,
                     Cursors(self.source.collector))
        if begin:
            run.source_id = self._begin(variant, url, sha256)
        return run

    def _begin(self, variant: str, url: str | None, sha256: str) -> int:
        with self.store.begin() as conn:
            return begin_source(conn, collector=self.source.collector, variant=variant,
                                namespace=self.source.namespace, url=url, sha256=sha256, md5=None,
                                license=self.source.license)

    def _close(self, run: ApiRun, status: str) -> None:
        with self.store.begin() as conn:
            run.report.stored = namespace_counts(conn, self.source.namespace)
        self._finish(run, status)

    def _finish(self, run: ApiRun, status: str) -> None:
        report = run.report
        counts = {**report.read, **{f"new_{k}": v for k, v in report.written.items()},
                  "rejected": report.rejections.count}
        with self.store.begin() as conn:
            finish_source(conn, run.source_id, counts)
            if status != "complete":
                conn.execute(models.sources.update().where(models.sources.c.id == run.source_id)
                             .values(status=status))

