"""Resumable, retrying, checksum-verified HTTP downloads.

A file only ever appears at ``dest`` through a single ``os.replace`` of a partial
file that holds the whole body and has passed its checksums. So however the
process dies (SIGKILL included), ``dest`` either holds what it held before or the
finished, verified file; never a half-written one. The hidden partial file
(``.<name>.part``) is kept on purpose when a run dies: the next run resumes it
with an HTTP Range request instead of starting over.

Two processes downloading to the same ``dest`` at once are not supported.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx

from timgen_data.collectors.checksums import file_digests
from timgen_data.collectors.retry import (
    TRANSIENT_ERRORS,
    Transient,
    describe_error,
    int_header,
    retry_after,
    with_retries,
)
from timgen_data.errors import ChecksumMismatchError, DownloadError
from timgen_data.progress import SILENT, Progress

_CONTENT_RANGE = re.compile(r"^bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)$")


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
    progress: Progress = SILENT,
    client: httpx.Client | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming, retrying and verifying checksums.

    ``sleep`` is what waits between attempts; tests pass a recorder instead.
    """
    dest = Path(dest)
    part = dest.parent / f".{dest.name}.part"
    expected = {"sha256": _normalise(expected_sha256), "md5": _normalise(expected_md5)}

    if dest.exists() and not force:
        digests = file_digests(dest)
        if _mismatch(expected, digests) is None:
            return DownloadResult(dest, url, dest.stat().st_size, *digests, resumed=False, reused=True)
        # A copy that fails verification is stale: only verified files may sit at dest.
        dest.unlink()
    if force:
        part.unlink(missing_ok=True)  # --force means a fresh copy, not a resumed one
    dest.parent.mkdir(parents=True, exist_ok=True)

    task = f"download {dest.name}"
    with client_scope(client) as http:
        try:
            resumed = with_retries(
                lambda: _fetch_once(http, url, part, timeout, progress, task),
                max_attempts, max_retry_after, sleep,
            )
        except Transient as exc:
            kept = part.stat().st_size if part.exists() else 0
            resume = f"; the {kept} bytes received so far are kept in {part} and will be resumed"
            raise DownloadError(
                f"Could not download {url} after {max_attempts} attempts (last error: {exc}). "
                f"Check your network connection and re-run{resume if kept else ''}."
            ) from exc
    progress.finish(task)

    digests = file_digests(part)
    problem = _mismatch(expected, digests)
    if problem is not None:
        part.unlink(missing_ok=True)  # a resumed run must not build on these bytes
        algorithm, want, got = problem
        raise ChecksumMismatchError(
            f"{dest.name} downloaded from {url} has {algorithm} {got}, expected {want}. "
            "The mirror may be serving a different file. The download was deleted; "
            "re-run to fetch it again, or use --base-url to try another mirror."
        )
    os.replace(part, dest)
    return DownloadResult(dest, url, dest.stat().st_size, *digests, resumed=resumed, reused=False)


def fetch_text(
    url: str,
    *,
    max_attempts: int = 6,
    timeout: float = 30.0,
    client: httpx.Client | None = None,
    max_retry_after: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """GET a small text file (such as a published ``.md5``); None if it is a 404."""

    def once(http: httpx.Client) -> str | None:
        try:
            response = http.get(url, timeout=timeout, follow_redirects=True)
        except TRANSIENT_ERRORS as exc:
            raise Transient(describe_error(exc)) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DownloadError(f"Could not fetch {url}: {describe_error(exc)}") from exc
        if response.status_code == 404:
            return None
        _raise_for_status(response, url, ok=range(200, 300))
        return response.text

    with client_scope(client) as http:
        try:
            return with_retries(lambda: once(http), max_attempts, max_retry_after, sleep)
        except Transient as exc:
            raise DownloadError(
                f"Could not fetch {url} after {max_attempts} attempts (last error: {exc}). "
                "Check your network connection and re-run."
            ) from exc


def _fetch_once(
    http: httpx.Client, url: str, part: Path, timeout: float, progress: Progress, task: str
) -> bool:
    """One GET into ``part``, resuming what is there; returns whether it resumed.

    Raises Transient when the body did not fully arrive; whatever did arrive stays
    in ``part`` for the next attempt to resume.
    """
    offset = part.stat().st_size if part.exists() else 0
    # Ranges count bytes of the stored file, so ask for no content encoding.
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        with http.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
            if response.status_code == 416 and offset:
                _, total = _content_range(response)
                if total == offset:  # an earlier run got every byte; only verification is left
                    progress.start(task, total=total, unit="B")
                    progress.advance(task, offset)
                    return True
                part.unlink(missing_ok=True)
                raise Transient(f"server cannot resume from byte {offset}; starting over", 0.0)
            _raise_for_status(response, url, ok=(200, 206))
            if response.status_code == 206:
                start, total = _content_range(response)
                if total is None and (length := int_header(response, "Content-Length")) is not None:
                    total = offset + length
                if start != offset:
                    part.unlink(missing_ok=True)
                    raise Transient(f"server sent bytes from {start}, not {offset}; starting over", 0.0)
                mode = "ab"
            else:  # 200: the server ignored the Range header; the full body follows
                offset, mode = 0, "wb"
                total = int_header(response, "Content-Length")
            resumed = offset > 0
            progress.start(task, total=total, unit="B")
            if offset:
                progress.advance(task, offset)
            with part.open(mode) as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    # Hand each chunk to the OS at once, so a killed run keeps it to resume.
                    out.flush()
                    progress.advance(task, len(chunk))
                # Durable before the rename, so a power cut cannot leave an empty dest.
                os.fsync(out.fileno())
    except TRANSIENT_ERRORS as exc:
        raise Transient(describe_error(exc)) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # bad URL, redirect loop: retrying cannot help
        raise DownloadError(f"Could not download {url}: {describe_error(exc)}") from exc
    size = part.stat().st_size
    if total is not None and size != total:
        raise Transient(f"connection closed after {size} of {total} bytes")
    return resumed


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


def _normalise(digest: str | None) -> str | None:
    return digest.strip().lower() if digest else None


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
