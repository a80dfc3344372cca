"""The one retry policy every HTTP client here shares.

An attempt that fails in a way another attempt may fix raises :class:`Transient`;
:func:`with_retries` runs it again with exponential backoff and jitter, or after the
server's ``Retry-After`` (capped), at most ``max_attempts`` times, then re-raises the last
``Transient`` for the caller to turn into its own typed error.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TypeVar

import httpx
import tenacity

_T = TypeVar("_T")
# Failures another attempt may fix. UnsupportedProtocol and LocalProtocolError are
# deliberately absent: retrying a bad URL or our own bad request cannot help.
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class Transient(Exception):
    """One attempt failed in a way that another attempt may fix."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds the server (or we) asked to wait


def with_retries(
    attempt: Callable[[], _T], max_attempts: int, max_retry_after: float, sleep: Callable[[float], None]
) -> _T:
    """Run ``attempt`` until it stops raising Transient, at most max_attempts times."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    backoff = tenacity.wait_exponential_jitter(initial=1, max=30, jitter=0.5)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient) and exc.retry_after is not None:
            return min(exc.retry_after, max_retry_after)
        return backoff(state)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=wait,
        retry=tenacity.retry_if_exception_type(Transient),
        sleep=sleep,
        reraise=True,  # callers turn the last Transient into a DownloadError
    )
    return retrying(attempt)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), if usable."""
    return retry_after_seconds(response.headers.get("Retry-After"))


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After value (delta-seconds or HTTP-date), if usable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "")
    return int(value) if value.isdigit() else None


def describe_error(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
