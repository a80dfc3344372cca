"""Fetch one media asset from a URL (or a local file) into the content store.

One bad asset must never stop a run, so ``fetch_asset`` does not raise for anything
that is the asset's fault or the network's: it returns a ``FetchOutcome`` with status
"failed" and the reason in plain words, to be recorded on the asset. Only programming
errors (a wrong modality name, say) propagate.

What is stored is decided by the bytes alone: the URL's extension and the server's
Content-Type are ignored, the first bytes are sniffed, and content that cannot be the
requested modality is refused. Sizes are bounded twice, by Content-Length before the
body and by counting the body itself, since servers may lie or not say. Retries reuse
the policy of ``timgen_data.downloads.download`` (bounded attempts, exponential
backoff, Retry-After honoured up to a cap). Assets are small, so a retry starts the
body over rather than resuming it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from timgen_data.alignment.content_store import ContentStore, StoredBlob
from timgen_data.alignment.sniff import SNIFF_BYTES, fits_modality, sniff
from timgen_data.downloads.download import client_scope
from timgen_data.downloads.retry import (
    Transient,
    describe_error,
    int_header,
    retry_after,
    with_retries,
)
from timgen_common.progress import SILENT, Progress

DEFAULT_MAX_BYTES = 50 * 2**20
MAX_RETRY_AFTER = 60.0  # a server asking for longer is treated as asking for this long
_CHUNK = 1 << 16


@dataclass(frozen=True)
class FetchOutcome:
    status: str  # "ok" | "failed"
    blob: StoredBlob | None
    error: str | None  # why it failed, in plain words; None when ok
    url: str


class _Refused(Exception):
    """The asset cannot be had, and another attempt would not change that."""


def fetch_asset(
    url: str,
    store: ContentStore,
    modality: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    client: httpx.Client | None = None,
    max_attempts: int = 4,
    timeout: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress = SILENT,
    max_retry_after: float = MAX_RETRY_AFTER,
) -> FetchOutcome:
    """Fetch ``url`` (http, https, file, or a local path) as an asset of ``modality``.

    ``sleep`` is what waits between attempts; tests pass a recorder instead.
    """
    fits_modality(None, modality)  # a wrong modality name is a programming error: raise now
    scheme = urlsplit(url).scheme.lower()
    staging = store.staging_path()
    task = f"fetch {url}"
    try:
        if scheme in ("http", "https"):
            try:
                with client_scope(client) as http:
                    mime, extension = with_retries(
                        lambda: _http_once(http, url, staging, modality, max_bytes, timeout, progress, task),
                        max_attempts, max_retry_after, sleep,
                    )
            finally:
                progress.finish(task)  # failed or not, the bar is done
        elif scheme == "file" or scheme == "" or _is_windows_drive(scheme):
            mime, extension = _copy_local(_local_path(url, scheme), staging, modality, max_bytes)
        else:
            raise _Refused(f"unsupported URL scheme {scheme!r}; expected http, https, file or a local path")
        blob = store.put_file(staging, mime=mime, extension=extension or "bin")
    except Transient as exc:
        detail = getattr(exc, "detail", "")
        return _failed(url, f"{exc} after {max_attempts} attempts" + (f" ({detail})" if detail else ""))
    except _Refused as exc:
        return _failed(url, str(exc))
    except OSError as exc:  # our own disk: full, unwritable; recorded, and the run goes on
        return _failed(url, f"could not store the asset: {describe_error(exc)}")
    finally:
        staging.unlink(missing_ok=True)  # put_file moved it away on success
    return FetchOutcome("ok", blob, None, url)


def _failed(url: str, error: str) -> FetchOutcome:
    return FetchOutcome("failed", None, error, url)


def _http_once(
    http: httpx.Client,
    url: str,
    staging: Path,
    modality: str,
    max_bytes: int,
    timeout: float,
    progress: Progress,
    task: str,
) -> tuple[str | None, str | None]:
    """One GET of the whole body into ``staging``; returns the sniffed (mime, extension)."""
    # identity: Content-Length then counts the bytes we will store.
    headers = {"Accept-Encoding": "identity"}
    try:
        with http.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as response:
            _check_status(response)
            encoded = bool(response.headers.get("Content-Encoding", "").strip())
            declared = int_header(response, "Content-Length")
            if declared is not None and declared > max_bytes and not encoded:
                raise _Refused(f"larger than the {human_size(max_bytes)} limit (Content-Length {declared})")
            progress.start(task, total=declared, unit="B")
            received, kind = _write_checked(
                response.iter_bytes(_CHUNK), staging, modality, max_bytes, progress, task
            )
    except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise _transient(*_transport_words(exc)) from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:  # bad URL, redirect loop: retrying cannot help
        raise _Refused(f"cannot fetch: {describe_error(exc)}") from exc
    if declared is not None and not encoded and received != declared:
        raise _transient("connection dropped", f"received {received} of {declared} bytes")
    return kind


def _transient(words: str, detail: str) -> Transient:
    transient = Transient(words)
    transient.detail = detail  # reported after the attempt count, so the reason reads first
    return transient


def _check_status(response: httpx.Response) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    words = f"HTTP {code} {response.reason_phrase}".strip()
    if code in (408, 429) or code >= 500:
        raise Transient(words, retry_after(response) if code in (429, 503) else None)
    raise _Refused(words)


def _copy_local(source: Path, staging: Path, modality: str, max_bytes: int) -> tuple[str | None, str | None]:
    try:
        if not source.is_file():
            raise _Refused(f"no such file: {source}")
        size = source.stat().st_size
        if size > max_bytes:
            raise _Refused(f"larger than the {human_size(max_bytes)} limit (file is {size} bytes)")
        with open(source, "rb") as src:
            chunks = iter(lambda: src.read(_CHUNK), b"")
            _, kind = _write_checked(chunks, staging, modality, max_bytes, SILENT, "")
    except OSError as exc:
        raise _Refused(f"could not copy {source}: {describe_error(exc)}") from exc
    return kind


def _write_checked(
    chunks: Iterable[bytes], staging: Path, modality: str, max_bytes: int, progress: Progress, task: str
) -> tuple[int, tuple[str | None, str | None]]:
    """Write ``chunks`` to ``staging`` (from its start), refusing as soon as the count
    passes ``max_bytes`` or the first bytes show the wrong type. Returns (bytes, (mime, ext))."""
    received = 0
    head = b""
    kind: tuple[str | None, str | None] | None = None
    with open(staging, "wb") as out:
        for chunk in chunks:
            received += len(chunk)
            if received > max_bytes:
                limit = human_size(max_bytes)
                raise _Refused(f"larger than the {limit} limit (more than {max_bytes} bytes received)")
            if kind is None:
                head += chunk[: SNIFF_BYTES - len(head)]
                if len(head) >= SNIFF_BYTES:  # stop early: no point downloading the wrong thing
                    kind = _sniff_for(head, modality)
            out.write(chunk)
            progress.advance(task, len(chunk))
        if received == 0:
            raise _Refused("empty response (0 bytes)")
        if kind is None:
            kind = _sniff_for(head, modality)
        out.flush()
        # Durable before put_file renames it into the store.
        os.fsync(out.fileno())
    return received, kind


def _sniff_for(head: bytes, modality: str) -> tuple[str | None, str | None]:
    mime, extension = sniff(head)
    if not fits_modality(mime, modality):
        what = mime if mime is not None else "of an unknown type"
        raise _Refused(f"bytes are {what}, expected {modality}")
    return mime, extension


def _local_path(url: str, scheme: str) -> Path:
    if scheme != "file":
        return Path(url).expanduser()
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise _Refused(f"file URL on another host ({parts.netloc}) is not supported")
    return Path(url2pathname(parts.path))  # url2pathname also undoes %-escapes


def _is_windows_drive(scheme: str) -> bool:
    return len(scheme) == 1 and os.name == "nt"  # "C:\\clips\\a.mp4" parses with scheme "c"


def _transport_words(exc: Exception) -> tuple[str, str]:
    """(what happened in plain words, httpx's detail) for a transport failure."""
    detail = str(exc)
    if isinstance(exc, httpx.TimeoutException):
        return "timed out", detail or type(exc).__name__
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection dropped", detail
    if isinstance(exc, httpx.ConnectError):
        return "could not connect", detail
    return "network error", describe_error(exc)


def human_size(n: int) -> str:
    """50 MB, 1.5 MB, 12 KB, 900 bytes: how limits read in messages (binary units)."""
    for unit, scale in (("MB", 2**20), ("KB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"

