"""How long, how slowly and how big a download may run, and how big an archive may unpack.

The defaults never get in the way of a real MovieLens, Amazon or IMDb download on a slow
line, yet stop the pathological cases: a server that trickles a byte at a time or hangs,
a body with no end, a zip bomb.

Every download and extraction uses the limits in effect where it runs: an explicit
``limits=`` argument, else the ones a caller set for a whole command with
:func:`limits_in_effect` (the CLI does this once, from the ``collect`` options), else the
defaults. So a collector deep down needs no parameter to honour what the user asked.

>>> with limits_in_effect(DownloadLimits(deadline=600)):
...     current_download_limits().deadline
600
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from timgen_data.disk_space import human_bytes
from timgen_data.downloads.retry import Transient

HOUR = 3600.0


@dataclass(frozen=True)
class DownloadLimits:
    """Bounds on one download (``None`` turns a bound off).

    ``deadline``: seconds the whole download may take, every retry and wait between
    attempts included. ``min_rate``: bytes per second an attempt must average over each
    ``rate_window`` seconds (a connection that sends nothing for that long counts too);
    a slower attempt fails and the retry policy tries again. ``max_bytes``: the largest
    file a download may be.
    """

    deadline: float | None = 24 * HOUR
    min_rate: float | None = 1_000.0
    rate_window: float = 30.0
    max_bytes: int | None = 100 * 10**9

    def __post_init__(self) -> None:
        for name in ("deadline", "min_rate", "max_bytes"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive or None, not {value!r}")
        if not self.rate_window > 0:
            raise ValueError(f"rate_window must be positive, not {self.rate_window!r}")


@dataclass(frozen=True)
class UnpackLimits:
    """Bounds on what one archive may unpack to.

    ``max_bytes``: the most an archive may unpack to, in total. Left at None, the bound
    is ``max_ratio`` times the archive's own size, but never under ``floor``: real
    releases compress a few times, a zip bomb hundreds or thousands of times
    (``max_ratio=math.inf`` removes the bound).
    """

    max_bytes: int | None = None
    max_ratio: float = 100.0
    floor: int = 100 * 10**6

    def __post_init__(self) -> None:
        if self.max_bytes is not None and not self.max_bytes > 0:
            raise ValueError(f"max_bytes must be positive or None, not {self.max_bytes!r}")
        if not self.max_ratio > 0:
            raise ValueError(f"max_ratio must be positive, not {self.max_ratio!r}")

    def allowed(self, archive_bytes: int) -> float:
        """The most an archive of ``archive_bytes`` may unpack to (``math.inf``: no bound)."""
        if self.max_bytes is not None:
            return self.max_bytes
        return max(self.floor, archive_bytes * self.max_ratio)


_DOWNLOAD_LIMITS: ContextVar[DownloadLimits] = ContextVar("download_limits", default=DownloadLimits())
_UNPACK_LIMITS: ContextVar[UnpackLimits] = ContextVar("unpack_limits", default=UnpackLimits())


def current_download_limits() -> DownloadLimits:
    """The download limits in effect here (the defaults unless a caller set others)."""
    return _DOWNLOAD_LIMITS.get()


def current_unpack_limits() -> UnpackLimits:
    """The archive limits in effect here (the defaults unless a caller set others)."""
    return _UNPACK_LIMITS.get()


@contextlib.contextmanager
def limits_in_effect(
    download: DownloadLimits | None = None, unpack: UnpackLimits | None = None
) -> Iterator[None]:
    """Make ``download`` / ``unpack`` the limits of every download and extraction in the block."""
    tokens = []
    if download is not None:
        tokens.append((_DOWNLOAD_LIMITS, _DOWNLOAD_LIMITS.set(download)))
    if unpack is not None:
        tokens.append((_UNPACK_LIMITS, _UNPACK_LIMITS.set(unpack)))
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


class Deadline:
    """The moment a download must be done by, started when the download starts."""

    def __init__(self, seconds: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._ends = math.inf if seconds is None else clock() + seconds

    def remaining(self) -> float:
        return self._ends - self._clock()

    def passed(self) -> bool:
        return self.remaining() <= 0


class TooSlow(Transient):
    """One attempt received data more slowly than the minimum rate (or none at all)."""


class RateGuard:
    """Fails an attempt whose data arrives more slowly than ``limits.min_rate``.

    The rate is measured over consecutive windows of ``rate_window`` seconds from the start
    of the attempt (waiting for the answer included), so a short stall on a real line is
    absorbed while a trickle of a byte every few seconds is caught within two windows.
    """

    def __init__(self, limits: DownloadLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self._min_rate = limits.min_rate
        self._window = limits.rate_window
        self._clock = clock
        self._since = clock()
        self._counted = 0

    def add(self, nbytes: int) -> None:
        """Count ``nbytes`` just received; raises TooSlow when a window came in too slowly."""
        if self._min_rate is None:
            return
        self._counted += nbytes
        now = self._clock()
        elapsed = now - self._since
        if elapsed < self._window:
            return
        rate = self._counted / elapsed
        if rate < self._min_rate:
            raise TooSlow(f"{human_rate(rate)} over {human_duration(elapsed)}, below the minimum of "
                          f"{human_rate(self._min_rate)}")
        self._since, self._counted = now, 0

    def stall_timeout(self) -> float | None:
        """How long to wait for the next byte before the attempt counts as stalled."""
        return None if self._min_rate is None else self._window


def human_rate(bytes_per_second: float) -> str:
    """``1500.0`` → ``'1.5 KB/s'``."""
    return f"{human_bytes(bytes_per_second)}/s"


def human_duration(seconds: float) -> str:
    """``90`` → ``'1.5 min'``; seconds below a minute keep one decimal.

    >>> human_duration(7200)
    '2.0 h'
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < HOUR:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / HOUR:.1f} h"
