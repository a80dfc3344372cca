"""A thin X API v2 client on httpx: bearer auth, rate limits, bounded retries, raw capture.

Rate limits are per endpoint and announced on every answer (``x-rate-limit-limit``,
``-remaining``, ``-reset``). The client waits for the reset when an endpoint is used up
(``remaining`` 0) or answers 429, but only up to ``max_wait`` seconds; a longer wait stops
the run with a ``RateLimitError`` naming the reset time, since the caller has committed
everything before this request and a re-run then resumes. 5xx answers and network errors
are retried with the download module's bounded exponential backoff. Every waiting goes
through the injected ``sleep`` and every "now" through ``clock``, so tests record waits
instead of sleeping.

The token is sent as a header on each request and kept nowhere else: responses are
recorded without request headers, and messages name paths, never full requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from timgen_data.collectors.api import RawResponse
from timgen_data.collectors.twitter.spec import DEFAULT_BASE_URL, TOKEN_ENV, iso_time
from timgen_data.downloads.retry import (
    TRANSIENT_ERRORS,
    Transient,
    describe_error,
    retry_after,
    with_retries,
)
from timgen_data.errors import ConfigError, DownloadError, RateLimitError, UsageError

RATE_HEADERS = {"limit": "x-rate-limit-limit", "remaining": "x-rate-limit-remaining", "reset": "x-rate-limit-reset"}
RESET_SLACK = 1  # the reset is announced in whole seconds; wait one more to be past it
MAX_RATE_WAITS = 3  # 429s answered by waiting, per request, before the run gives up
NO_RESET_WAIT = 60  # a 429 that names no reset time: wait this long (still bounded by max_wait)
MAX_RETRY_AFTER = 60.0  # a 5xx asking for a longer Retry-After is retried after this long


class XClient:
    """GET requests to the X API, returning ``RawResponse`` for 200 answers and raising otherwise.

    >>> with httpx.Client() as http:                                        # doctest: +SKIP
    ...     XClient(token, http=http).get("search", "/2/tweets/search/recent", {"query": "cats"})
    """

    def __init__(
        self,
        token: str,
        *,
        http: httpx.Client,
        base_url: str = DEFAULT_BASE_URL,
        max_wait: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 5,
        timeout: float = 30.0,
        on_response: Callable[[RawResponse], RawResponse] | None = None,
    ) -> None:
        self._token = token
        self._http = http
        self._base = base_url.rstrip("/")
        self.public_base = public_url(self._base)
        self.max_wait = max_wait
        self._sleep, self._clock = sleep, clock
        self._max_attempts, self._timeout = max_attempts, timeout
        self._on_response = on_response
        self._limits: dict[str, dict[str, int | None]] = {}  # endpoint -> its last rate values

    def __repr__(self) -> str:
        return f"XClient({self.public_base!r})"  # never the token

    def get(self, endpoint: str, path: str, params: dict[str, str]) -> RawResponse:
        """GET ``path``; ``endpoint`` names the rate-limit bucket (one per API endpoint)."""
        for _ in range(MAX_RATE_WAITS + 1):
            self._wait_if_used_up(endpoint)
            try:
                response = with_retries(lambda: self._once(path, params), self._max_attempts,
                                         MAX_RETRY_AFTER, self._sleep)
            except Transient as exc:
                raise DownloadError(
                    f"the X API at {self.public_base}{path} failed {self._max_attempts} times (last error: {exc}); "
                    "check the network or --base-url and re-run: what was collected so far is saved"
                ) from None
            if response.rate.get("remaining") is not None:
                self._limits[endpoint] = response.rate
            if response.status != 429:
                return self._checked(response)
            reset = response.rate.get("reset")
            self._wait_until(endpoint, reset if reset is not None else int(self._clock()) + NO_RESET_WAIT)
            self._limits.pop(endpoint, None)
        raise RateLimitError(
            f"the X API kept answering 429 for {path} after {MAX_RATE_WAITS} waits; re-run later to resume"
        )

    def _once(self, path: str, params: dict[str, str]) -> RawResponse:
        try:
            answer = self._http.get(self._base + path, params=params, timeout=self._timeout,
                                    headers={"Authorization": f"Bearer {self._token}"})
        except TRANSIENT_ERRORS as exc:
            raise Transient(describe_error(exc)) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise DownloadError(f"cannot request {self.public_base}{path}: {type(exc).__name__}; "
                                "check --base-url") from None
        response = RawResponse(path, dict(params), answer.status_code, _rate(answer), _body(answer),
                               int(self._clock()))
        if self._on_response is not None:
            response = self._on_response(response)
        if answer.status_code >= 500 or answer.status_code == 408:
            raise Transient(f"HTTP {answer.status_code} from {path}", retry_after(answer))
        return response

    def _wait_if_used_up(self, endpoint: str) -> None:
        rate = self._limits.get(endpoint)
        if rate and rate.get("remaining") == 0 and rate.get("reset") is not None:
            self._wait_until(endpoint, int(rate["reset"]))
            self._limits.pop(endpoint, None)

    def _wait_until(self, endpoint: str, reset: int) -> None:
        wait = reset + RESET_SLACK - self._clock()
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise RateLimitError(
                f"the X API rate limit for {endpoint} is used up until {iso_time(reset)} ({wait:.0f} s from now, "
                f"more than --max-wait {self.max_wait:.0f} s); what was collected so far is saved: "
                f"re-run after {iso_time(reset)} to resume",
                resume_at=reset,
            )
        self._sleep(wait)

    def _checked(self, response: RawResponse) -> RawResponse:
        status, path = response.status, response.path
        if status == 200:
            return response
        detail = api_detail(response.body)
        if status == 401:
            raise ConfigError(f"the X API refused the bearer token (HTTP 401{detail}); "
                              f"set a valid token in {TOKEN_ENV} or --credentials FILE")
        if status == 403:
            raise ConfigError(f"the X API refused {path} (HTTP 403{detail}); "
                              "the app's access level may not include this endpoint")
        if status == 400:
            raise UsageError(f"the X API rejected the request to {path} (HTTP 400{detail}); "
                             "check --query, --users, --since and --until")
        raise DownloadError(f"the X API answered HTTP {status} for {path}{detail}")


def public_url(url: str) -> str:
    """``url`` without user name and password, for messages and the ``sources`` row."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "<invalid URL>"
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed).rstrip("/")


def api_detail(body: Any) -> str:
    """The API's own explanation of an error, as ``": ..."`` (empty when it gave none)."""
    if not isinstance(body, dict):
        return ""
    parts = [body.get("detail") or body.get("title")]
    parts += [e.get("message") or e.get("detail") for e in body.get("errors") or [] if isinstance(e, dict)]
    text = "; ".join(dict.fromkeys(str(p) for p in parts if p))
    return f": {text[:300]}" if text else ""


def _rate(answer: httpx.Response) -> dict[str, int | None]:
    values = {}
    for key, header in RATE_HEADERS.items():
        raw = answer.headers.get(header, "").strip()
        values[key] = int(raw) if raw.isdigit() else None
    return values


def _body(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return answer.text
