"""Resumable, retrying, checksum-verified, bounded HTTP downloads.

A file only ever appears at ``dest`` through a single ``os.replace`` of a partial
file that holds the whole body and has passed its checksums. So however the
process dies (SIGKILL included), ``dest`` either holds what it held before or the
finished, verified file; never a half-written one. The hidden partial file
(``.<name>.part``) is kept on purpose when a run dies or stops: the next run resumes it
with an HTTP Range request instead of starting over, sending the validator of the
response that began it as ``If-Range``, so a file that changed on the server since is
fetched whole instead of spliced onto the old bytes (see :mod:`download_files`). Bytes
whose origin cannot be checked (no validator was given) are resumed only within one
call, or when a checksum will verify the result; otherwise the download starts over.

Every download stays within its :class:`DownloadLimits` (deadline, minimum rate, maximum
size): an attempt that stalls or trickles fails and is retried; running out of time or
size stops with a one-line :class:`DownloadLimitError`. A full disk stops with a
:class:`DiskFullError` naming the folder and the room needed. The partial file stays in
all these cases, so a re-run resumes.

A finished download that fails a checksum given later is kept, not deleted, when it
passed a checksum when it was downloaded: the error says which value it has.

Two processes downloading to the same ``dest`` at once are not supported.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import time
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx

from timgen_data.disk_space import disk_full_error, ensure_room, human_bytes, is_disk_full
from timgen_data.downloads.checksums import checked_digest, file_digests
from timgen_data.downloads.download_files import (
    PartialFile,
    changed_since,
    record_verified,
    response_validator,
    was_verified,
)
from timgen_data.downloads.download_limits import (
    Deadline,
    DownloadLimits,
    RateGuard,
    TooSlow,
    current_download_limits,
    human_duration,
)
from timgen_data.downloads.retry import (
    TRANSIENT_ERRORS,
    Transient,
    describe_error,
    int_header,
    retry_after,
    with_retries,
)
from timgen_data.errors import ChecksumMismatchError, DownloadError, DownloadLimitError
from timgen_common.progress import SILENT, Progress

_CONTENT_RANGE = re.compile(r"^bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)$")
SMALL_TEXT_BYTES = 1_000_000  # what fetch_text accepts: a published checksum, not a release


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    url: str
    bytes: int
    sha256: str
    md5: str
    resumed: bool  # some bytes came from an earlier, interrupted attempt or run
    reused: bool  # dest was already there and verified; nothing was fetched


def download(
    url: str,
    dest: Path,
    *,
    expected_md5: str | None = None,
    expected_sha256: str | None = None,
    force: bool = False,
    max_attempts: int = 6,
    timeout: float = 60.0,
    max_retry_after: float = 120.0,
    limits: DownloadLimits | None = None,
    progress: Progress = SILENT,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming, retrying, verifying checksums, within ``limits``.

    ``limits`` defaults to those in effect (:func:`current_download_limits`). A malformed
    ``expected_md5``/``expected_sha256`` is a UsageError before any request. ``sleep`` is
    what waits between attempts; tests pass a recorder instead.

    >>> download("https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    ...          Path("timgen-data/downloads/ml-1m.zip"))  # doctest: +SKIP
    """
    expected = {"sha256": checked_digest(expected_sha256, "sha256"), "md5": checked_digest(expected_md5, "md5")}
    job = _Download(url, Path(dest), expected, limits or current_download_limits(), timeout, progress)
    try:
        return job.run(force=force, max_attempts=max_attempts, max_retry_after=max_retry_after,
                       client=client, sleep=sleep)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full_error(job.dest.parent, job.still_needed(), what=f"the download of {job.dest.name}") from exc
        raise


class _Download:
    """One call of :func:`download`: what it knows across its attempts."""

    def __init__(self, url: str, dest: Path, expected: dict[str, str | None], limits: DownloadLimits,
                 timeout: float, progress: Progress) -> None:
        self.url, self.dest, self.expected, self.limits = url, dest, expected, limits
        self.timeout, self.progress = timeout, progress
        self.partial = PartialFile.of(dest)
        self.task = f"download {dest.name}"
        self.deadline = Deadline(limits.deadline)
        self.total: int | None = None  # the file's full size, once a server said
        self.began_here = False  # this call started the partial file, so its origin is known

    def run(self, *, force: bool, max_attempts: int, max_retry_after: float,
            client: httpx.Client | None, sleep: Callable[[float], None]) -> DownloadResult:
        if self.dest.exists() and not force:
            existing = self._existing()
            if existing is not None:
                return existing
        if force:
            self.partial.discard()  # --force means a fresh copy, not a resumed one
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        with client_scope(client) as http:
            try:
                resumed = with_retries(lambda: self._attempt(http), max_attempts, max_retry_after,
                                       _sleep_within(self.deadline, sleep, self._out_of_time))
            except TooSlow as exc:
                raise DownloadLimitError(
                    f"{self.url} came in too slowly ({exc}) on the last of {max_attempts} attempts; {self._kept()}. "
                    "Re-run later or from another mirror, or lower --min-download-rate"
                ) from exc
            except Transient as exc:
                kept = self.partial.size()
                resume = f"; the {kept} bytes received so far are kept in {self.partial.path} and will be resumed"
                raise DownloadError(
                    f"Could not download {self.url} after {max_attempts} attempts (last error: {exc}). "
                    f"Check your network connection and re-run{resume if kept and self._resumable() else ''}."
                ) from exc
        self.progress.finish(self.task)
        return self._verify_and_place(resumed)

    def still_needed(self) -> int | None:
        """Bytes still to be written, when the server said how big the file is."""
        return None if self.total is None else max(self.total - self.partial.size(), 1)

    def _existing(self) -> DownloadResult | None:
        """``dest`` as the result if it passes every expected checksum; None to download it again."""
        digests = file_digests(self.dest)
        problem = _mismatch(self.expected, digests)
        if problem is None:
            return DownloadResult(self.dest, self.url, self.dest.stat().st_size, *digests, resumed=False, reused=True)
        if was_verified(self.dest, digests[0]):
            algorithm, want, got = problem
            raise ChecksumMismatchError(
                f"{self.dest} is kept: it passed its checksum when it was downloaded, but its {algorithm} is {got}, "
                f"not {want} as asked. If {want} is a mistake, pass --{algorithm} {got} or leave --{algorithm} out; "
                "to download the file again, re-run with --force"
            )
        # Never verified: fetch it again. The old copy stays until a verified one replaces it.
        return None

    def _verify_and_place(self, resumed: bool) -> DownloadResult:
        digests = file_digests(self.partial.path)
        problem = _mismatch(self.expected, digests)
        if problem is not None:
            self.partial.discard()  # a resumed run must not build on these bytes
            algorithm, want, got = problem
            raise ChecksumMismatchError(
                f"{self.dest.name} downloaded from {self.url} has {algorithm} {got}, expected {want}. "
                "The mirror may be serving a different file. The downloaded copy was deleted; "
                "re-run to fetch it again, or use --base-url to try another mirror."
            )
        self.partial.move_to(self.dest)
        record_verified(self.dest, *digests, checked=[name for name, want in self.expected.items() if want])
        return DownloadResult(self.dest, self.url, self.dest.stat().st_size, *digests, resumed=resumed, reused=False)

    def _attempt(self, http: httpx.Client) -> bool:
        """One GET into the partial file, resuming what is there; returns whether it resumed.

        Raises Transient when the body did not fully arrive; whatever did arrive stays in
        the partial file for the next attempt to resume.
        """
        offset = self.partial.size()
        validator = self.partial.validator(self.url) if offset else None
        if offset and validator is None and not (self.began_here or any(self.expected.values())):
            self.partial.discard()  # bytes of unknown origin, and no checksum to catch a splice
            offset = 0
        # Ranges count bytes of the stored file, so ask for no content encoding.
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if validator is not None:
                headers["If-Range"] = validator
        guard = RateGuard(self.limits)
        try:
            with http.stream("GET", self.url, headers=headers, follow_redirects=True,
                             timeout=_timeouts(self.timeout, self.deadline, guard)) as response:
                if response.status_code == 416 and offset:
                    _, total = _content_range(response)
                    if total == offset:  # an earlier run got every byte; only verification is left
                        self.progress.start(self.task, total=total, unit="B")
                        self.progress.advance(self.task, offset)
                        return True
                    self.partial.discard()
                    raise Transient(f"server cannot resume from byte {offset}; starting over", 0.0)
                _raise_for_status(response, self.url, ok=(200, 206))
                if response.status_code == 206:
                    start, total = _content_range(response)
                    if total is None and (length := int_header(response, "Content-Length")) is not None:
                        total = offset + length
                    if start != offset:
                        self.partial.discard()
                        raise Transient(f"server sent bytes from {start}, not {offset}; starting over", 0.0)
                    if validator is not None and changed_since(response, validator):
                        self.partial.discard()  # a server that ignored If-Range but says the file changed
                        raise Transient(f"{self.url} changed since the download began; starting over", 0.0)
                    mode = "ab"
                else:  # 200: the whole file follows (Range ignored, or If-Range said the file changed)
                    offset, mode = 0, "wb"
                    total = int_header(response, "Content-Length")
                self.total = total
                self._check_room(total)
                if mode == "wb":
                    # Old bytes go before the new origin is noted: a kill in between must not pair them.
                    self.partial.discard()
                    self.partial.begin(self.url, response_validator(response))
                    self.began_here = True
                self.progress.start(self.task, total=total, unit="B")
                if offset:
                    self.progress.advance(self.task, offset)
                self._receive(response, mode, offset, guard)
        except TRANSIENT_ERRORS as exc:
            raise _transient(exc, self.deadline, guard, self.timeout, self._out_of_time) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # bad URL, redirect loop: retrying cannot help
            raise DownloadError(f"Could not download {self.url}: {describe_error(exc)}") from exc
        size = self.partial.size()
        if total is not None and size != total:
            raise Transient(f"connection closed after {size} of {total} bytes")
        return offset > 0

    def _receive(self, response: httpx.Response, mode: str, offset: int, guard: RateGuard) -> None:
        size = offset
        with self.partial.path.open(mode) as out:
            for chunk in response.iter_bytes():
                if self.limits.max_bytes is not None and size + len(chunk) > self.limits.max_bytes:
                    raise self._too_big(None)
                out.write(chunk)
                # Hand each chunk to the OS at once, so a killed run keeps it to resume.
                out.flush()
                size += len(chunk)
                self.progress.advance(self.task, len(chunk))
                if self.deadline.passed():
                    raise self._out_of_time()
                guard.add(len(chunk))
            # Durable before the rename, so a power cut cannot leave an empty dest.
            os.fsync(out.fileno())

    def _check_room(self, total: int | None) -> None:
        """Refuse before writing a byte when the file is too big to allow, or to fit on the disk."""
        if total is None:
            return
        if self.limits.max_bytes is not None and total > self.limits.max_bytes:
            raise self._too_big(total)
        # A 200 answer truncates the partial file first, so its bytes count as free room.
        ensure_room(self.dest.parent, total - self.partial.size(), what=f"the download of {self.dest.name}")

    def _kept(self) -> str:
        kept = self.partial.size()
        if not kept:
            return "nothing was written"
        where = f"the {human_bytes(kept)} received so far are kept in {self.partial.path}"
        return f"{where} and a re-run resumes them" if self._resumable() else where

    def _resumable(self) -> bool:
        """Whether a later run will continue the partial file (its origin is known, or a checksum will tell)."""
        return self.partial.validator(self.url) is not None or any(self.expected.values())

    def _out_of_time(self) -> DownloadLimitError:
        return DownloadLimitError(
            f"downloading {self.url} did not finish within {human_duration(self.limits.deadline or 0)} "
            f"(the download deadline); {self._kept()}. Re-run, or allow more time with --download-deadline"
        )

    def _too_big(self, total: int | None) -> DownloadLimitError:
        limit = f"the {human_bytes(self.limits.max_bytes or 0)} a download may be (--max-download-size)"
        what = f"is {human_bytes(total)}, over {limit}" if total is not None else f"sent more than {limit}"
        return DownloadLimitError(
            f"{self.url} {what}, so it was stopped; {self._kept()}. "
            "If a file that big is expected, re-run with a larger --max-download-size"
        )


def fetch_text(
    url: str,
    *,
    max_attempts: int = 6,
    timeout: float = 30.0,
    client: httpx.Client | None = None,
    max_retry_after: float = 120.0,
    limits: DownloadLimits | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """GET a small text file (such as a published ``.md5``); None if it is a 404.

    Bounded like :func:`download` by the deadline and minimum rate of ``limits``, and by
    :data:`SMALL_TEXT_BYTES` in size.
    """
    limits = limits or current_download_limits()
    deadline = Deadline(limits.deadline)

    def out_of_time() -> DownloadLimitError:
        return DownloadLimitError(
            f"fetching {url} did not finish within {human_duration(limits.deadline or 0)} (the download deadline). "
            "Re-run, or allow more time with --download-deadline"
        )

    def once(http: httpx.Client) -> str | None:
        guard = RateGuard(limits)
        try:
            with http.stream("GET", url, timeout=_timeouts(timeout, deadline, guard),
                             follow_redirects=True) as response:
                if response.status_code == 404:
                    return None
                _raise_for_status(response, url, ok=range(200, 300))
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > SMALL_TEXT_BYTES:
                        raise DownloadLimitError(
                            f"{url} is over {human_bytes(SMALL_TEXT_BYTES)}, too big for the small text file "
                            "expected there; check the URL (or --base-url)"
                        )
                    if deadline.passed():
                        raise out_of_time()
                    guard.add(len(chunk))
                return body.decode(response.charset_encoding or "utf-8", errors="replace")
        except TRANSIENT_ERRORS as exc:
            raise _transient(exc, deadline, guard, timeout, out_of_time) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DownloadError(f"Could not fetch {url}: {describe_error(exc)}") from exc

    with client_scope(client) as http:
        try:
            return with_retries(lambda: once(http), max_attempts, max_retry_after,
                                _sleep_within(deadline, sleep, out_of_time))
        except TooSlow as exc:
            raise DownloadLimitError(
                f"{url} came in too slowly ({exc}) on the last of {max_attempts} attempts. "
                "Re-run later or from another mirror, or lower --min-download-rate"
            ) from exc
        except Transient as exc:
            raise DownloadError(
                f"Could not fetch {url} after {max_attempts} attempts (last error: {exc}). "
                "Check your network connection and re-run."
            ) from exc


def _timeouts(timeout: float, deadline: Deadline, guard: RateGuard) -> httpx.Timeout:
    """Per-request timeouts: never past the deadline, nor longer than a stall may last."""
    stall = guard.stall_timeout() or math.inf
    return httpx.Timeout(min(timeout, stall, max(deadline.remaining(), 0.001)))


def _transient(exc: Exception, deadline: Deadline, guard: RateGuard, timeout: float,
               out_of_time: Callable[[], DownloadLimitError]) -> Exception:
    """What a network error means here: out of time, a stalled attempt, or one worth retrying."""
    if deadline.passed():
        return out_of_time()
    stall = guard.stall_timeout()
    if isinstance(exc, httpx.ReadTimeout) and stall is not None and stall <= timeout:
        return TooSlow(f"no data for {human_duration(stall)}")
    return Transient(describe_error(exc))


def _sleep_within(deadline: Deadline, sleep: Callable[[float], None],
                  out_of_time: Callable[[], DownloadLimitError]) -> Callable[[float], None]:
    """``sleep``, except that a wait that would end past the deadline stops the download at once."""

    def wait(seconds: float) -> None:
        if seconds >= deadline.remaining():
            raise out_of_time()
        sleep(seconds)

    return wait


def _raise_for_status(response: httpx.Response, url: str, *, ok: Container[int]) -> None:
    code = response.status_code
    if code in ok:
        return
    if code in (408, 429) or code >= 500:
        raise Transient(f"HTTP {code} from {url}", retry_after(response) if code in (429, 503) else None)
    if code == 404:
        raise DownloadError(
            f"{url} was not found (HTTP 404); the file may have moved. Use --base-url to "
            "point at another mirror, or --from-file to use a copy you downloaded yourself."
        )
    raise DownloadError(
        f"{url} answered HTTP {code} {response.reason_phrase}. Check the URL, or use "
        "--base-url for another mirror or --from-file for a local copy."
    )


def _content_range(response: httpx.Response) -> tuple[int | None, int | None]:
    """(first byte, complete length) from Content-Range; None where not stated."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
    if not match:
        return None, None
    first, _, total = match.groups()
    return (int(first) if first else None), (int(total) if total != "*" else None)


def _mismatch(expected: dict[str, str | None], digests: tuple[str, str]) -> tuple[str, str, str] | None:
    actual = dict(zip(("sha256", "md5"), digests))
    for algorithm, want in expected.items():
        if want is not None and want != actual[algorithm]:
            return algorithm, want, actual[algorithm]
    return None


def user_agent() -> str:
    """``timgen-data/<version>``: every request says who is asking."""
    try:
        version = metadata.version("timgen-data")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"timgen-data/{version}"


@contextlib.contextmanager
def client_scope(client: httpx.Client | None) -> Iterator[httpx.Client]:
    """Use the caller's client as is, or one of our own that we close afterwards."""
    if client is not None:
        yield client
        return
    with httpx.Client(follow_redirects=True, headers={"User-Agent": user_agent()}) as own:
        yield own
