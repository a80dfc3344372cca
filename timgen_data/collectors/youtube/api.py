"""Fetching: one YouTube Data API v3 call at a time, through google-api-python-client.

The client is built from the discovery document bundled with the library (no discovery
fetch), pointed at ``--base-url`` when given. ``YouTubeApi.call`` returns the decoded
response body and nothing else; it retries what another attempt may fix (5xx, 429,
per-second rate limits, dropped connections) with the toolkit's retry policy, which
honours Retry-After and is bounded in attempts and, through the socket timeout, in
time. Everything else becomes a typed outcome the collector decides about:

* ``QuotaExhausted``: the daily quota is spent (403 quotaExceeded / dailyLimitExceeded);
* ``ApiRefusal``: this request was refused (403 commentsDisabled, 404 videoNotFound, …);
* ``ConfigError``: the key is missing, invalid or not enabled for the API;
* ``DownloadError``: no usable answer after every attempt.

No message built here contains the key: errors are rebuilt from the status and the
API's own reason, never from ``HttpError`` (whose text carries the request URL).
"""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from timgen_data.collectors.youtube.credentials import install_log_filter, redact
from timgen_data.downloads.retry import Transient, retry_after_seconds, with_retries
from timgen_data.errors import ConfigError, DownloadError, UsageError

DEFAULT_ROOT = "https://youtube.googleapis.com/"
# Units each method costs against the daily quota (developers.google.com/youtube/v3/determine_quota_cost).
COSTS = {
    "videos.list": 1,
    "search.list": 100,
    "channels.list": 1,
    "playlistItems.list": 1,
    "commentThreads.list": 1,
    "comments.list": 1,
    "videoCategories.list": 1,
}
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "dailyLimitExceededUnreg"})
RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"})
KEY_REASONS = frozenset({
    "keyInvalid", "keyExpired", "accessNotConfigured", "ipRefererBlocked", "API_KEY_INVALID",
    "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED",
    "SERVICE_DISABLED", "keyExpiredOrInvalid",
})
_TRANSPORT_ERRORS = (httplib2.HttpLib2Error, http.client.HTTPException, OSError)
_TAG = re.compile(r"<[^>]+>")


class ApiRefusal(Exception):
    """The API refused this one request (not the key, not the quota): 403, 404, 400."""

    def __init__(self, method: str, status: int, reason: str, message: str, body: Any = None):
        super().__init__(f"{method}: HTTP {status} {reason}: {message}".rstrip(": "))
        self.method, self.status, self.reason, self.message, self.body = method, status, reason, message, body
        self.origin: tuple[str, int] | None = None  # where the refusal is saved (raw file, line), once it is

    def describe(self) -> str:
        words = f"HTTP {self.status} {self.reason}".strip()
        return f"{words}: {self.message}" if self.message else words


class QuotaExhausted(Exception):
    """The API says the project's daily quota is used up."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


def error_info(content: bytes | str | None) -> tuple[str, str, Any]:
    """(reason, message, decoded body) of an API error response; tolerant of any shape."""
    try:
        data = json.loads(content or b"null")
    except (ValueError, TypeError):
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content or "")
        return "", text.strip()[:200], None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", str(error or "")[:200], data
    reasons = [e.get("reason") for e in error.get("errors") or () if isinstance(e, dict) and e.get("reason")]
    details = [d.get("reason") for d in error.get("details") or () if isinstance(d, dict) and d.get("reason")]
    reason = next(iter(reasons + details), "") or str(error.get("status") or "")
    key_problem = next((r for r in reasons + details if r in KEY_REASONS), None)
    # The API's messages carry HTML (<code><a href=…>videoId</a></code>); reports want the words.
    message = " ".join(_TAG.sub("", str(error.get("message") or "")).split())
    return key_problem or reason, message, data


class YouTubeApi:
    """A live connection to the YouTube Data API v3 (or a stand-in at ``base_url``).

    ``sleep`` is what waits between attempts; tests pass a recorder instead.
    """

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 5,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        parts = urlsplit(base_url or DEFAULT_ROOT)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"--base-url {base_url!r} is not an http(s) URL; give the API's root, "
                             f"e.g. {DEFAULT_ROOT}")
        install_log_filter()
        self._key = api_key
        self.max_attempts, self.max_retry_after, self.sleep = max_attempts, max_retry_after, sleep
        self._service = build(
            "youtube", "v3", developerKey=api_key, static_discovery=True, cache_discovery=False,
            client_options={"api_endpoint": base_url} if base_url else None,
            http=httplib2.Http(timeout=timeout),
        )
        self.root_url = public_url(base_url or DEFAULT_ROOT)

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run ``method`` ("videos.list", …) with ``params``; the decoded response body."""
        resource, verb = method.split(".")
        request = getattr(getattr(self._service, resource)(), verb)(**params)
        try:
            return with_retries(lambda: self._once(method, request), self.max_attempts, self.max_retry_after,
                                 self.sleep)
        except Transient as exc:
            last = str(exc)
        raise DownloadError(
            f"the YouTube Data API gave no usable answer to {method} after {self.max_attempts} attempts "
            f"(last: {last}); check the network and --base-url, then re-run the same command: "
            "it resumes where it stopped"
        )

    def _once(self, method: str, request) -> dict[str, Any]:
        # Errors are raised after the except blocks, so no exception carries the
        # HttpError (whose text holds the URL, key included) as its __context__.
        problem: Exception | None = None
        try:
            body = request.execute(num_retries=0)
        except HttpError as exc:
            problem = self._classify(method, exc)
        except _TRANSPORT_ERRORS as exc:
            problem = Transient(redact(f"{type(exc).__name__}: {exc}", self._key))
        except ValueError as exc:  # a 2xx body that is not JSON: not the API
            problem = DownloadError(
                f"{method} answered with something that is not JSON ({redact(str(exc), self._key)[:120]}); "
                "check --base-url: it must be the API's root, e.g. https://youtube.googleapis.com/"
            )
        if problem is not None:
            raise problem
        if not isinstance(body, dict):
            raise DownloadError(f"{method} answered with JSON that is not an object; check --base-url")
        return body

    def _classify(self, method: str, exc: HttpError) -> Exception:
        status = int(exc.resp.status)
        reason, message, body = error_info(exc.content)
        message = redact(message, self._key)
        if status == 403 and reason in QUOTA_REASONS:
            return QuotaExhausted(reason, message)
        if status in (408, 429) or status >= 500 or reason in RATE_REASONS:
            retry_after = retry_after_seconds(exc.resp.get("retry-after"))
            return Transient(f"HTTP {status} {reason}".strip(), retry_after)
        if status == 401 or reason in KEY_REASONS or (status == 400 and "api key" in message.lower()):
            return ConfigError(
                f"the YouTube Data API refused the API key (HTTP {status} {reason}: {message}); check the key in "
                "YOUTUBE_API_KEY or --credentials, and that the YouTube Data API v3 is enabled for its project"
            )
        return ApiRefusal(method, status, reason, message, body)


def public_url(url: str) -> str:
    """``url`` without user:password, query or fragment: safe to store and show."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, netloc, path, "", ""))
