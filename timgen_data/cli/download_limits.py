"""``--download-deadline``, ``--min-download-rate``, ``--max-download-size``, ``--max-unpacked-size``.

Worded once and put on a command group: its callback makes the limits the ones in effect
for every download and extraction of the subcommand (see
:func:`timgen_data.downloads.download_limits.limits_in_effect`), so no collector needs a
parameter for them. An option left out keeps the library's default.
"""

from __future__ import annotations

import math
import re

import click

from timgen_data.downloads.download_limits import DownloadLimits, UnpackLimits, limits_in_effect

DEADLINE_ENV = "TIMGEN_DOWNLOAD_DEADLINE"
MIN_RATE_ENV = "TIMGEN_MIN_DOWNLOAD_RATE"
MAX_DOWNLOAD_ENV = "TIMGEN_MAX_DOWNLOAD_SIZE"
MAX_UNPACKED_ENV = "TIMGEN_MAX_UNPACKED_SIZE"
NO_LIMIT = "none"

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?(?:/s)?$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?$")
_SECONDS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}


class ByteSize(click.ParamType):
    """A number of bytes: ``500``, ``10KB``, ``1.5GB``, ``2GiB`` (``/s`` allowed for a rate), or ``none``.

    ``none`` becomes ``math.inf``: no limit.
    """

    name = "SIZE"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return value
        text = str(value).strip().lower()
        if text == NO_LIMIT:
            return math.inf
        match = _SIZE.match(text)
        if not match or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a size such as 500MB, 2GB or 10KB (or '{NO_LIMIT}' for no limit)", param, ctx)
        number, prefix, binary = match.groups()
        base = 1024 if binary else 1000
        return float(number) * base ** _POWERS[prefix]


class Duration(click.ParamType):
    """Seconds, or a number with s, m(in), h or d: ``90``, ``30m``, ``6h``; or ``none``."""

    name = "DURATION"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)):
            return value
        text = str(value).strip().lower()
        if text == NO_LIMIT:
            return math.inf
        match = _DURATION.match(text)
        if not match or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration such as 90s, 30m or 6h (or '{NO_LIMIT}' for no limit)", param, ctx)
        return float(match.group(1)) * _SECONDS[match.group(2)]


def download_limit_options(func):
    """The four limit options; the group's callback passes them to :func:`apply_download_limits`."""
    defaults = DownloadLimits()
    options = [
        click.option("--download-deadline", type=Duration(), envvar=DEADLINE_ENV,
                     help=f"Longest one download may take, retries included (e.g. 30m, 6h; '{NO_LIMIT}'). "
                          f"Default {defaults.deadline / 3600:g}h. Env: {DEADLINE_ENV}."),
        click.option("--min-download-rate", type=ByteSize(), envvar=MIN_RATE_ENV, metavar="SIZE",
                     help=f"Slowest a download may run, per second over {defaults.rate_window:g} s; a slower "
                          f"attempt is retried (e.g. 10KB; '{NO_LIMIT}'). Default 1KB. Env: {MIN_RATE_ENV}."),
        click.option("--max-download-size", type=ByteSize(), envvar=MAX_DOWNLOAD_ENV,
                     help=f"Largest file a download may be (e.g. 500GB; '{NO_LIMIT}'). Default 100GB. "
                          f"Env: {MAX_DOWNLOAD_ENV}."),
        click.option("--max-unpacked-size", type=ByteSize(), envvar=MAX_UNPACKED_ENV,
                     help=f"Most an archive may unpack to (e.g. 5GB; '{NO_LIMIT}'). Default: "
                          f"{UnpackLimits().max_ratio:g} times the archive's size, at least 100MB. "
                          f"Env: {MAX_UNPACKED_ENV}."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def apply_download_limits(ctx: click.Context, download_deadline: float | None, min_download_rate: float | None,
                          max_download_size: float | None, max_unpacked_size: float | None) -> None:
    """Make the given limits the ones in effect until ``ctx`` (the group's context) closes."""
    defaults = DownloadLimits()
    download = DownloadLimits(
        deadline=_chosen(download_deadline, defaults.deadline),
        min_rate=_chosen(min_download_rate, defaults.min_rate),
        rate_window=defaults.rate_window,
        max_bytes=_whole(_chosen(max_download_size, defaults.max_bytes)),
    )
    if max_unpacked_size is None:
        unpack = UnpackLimits()
    elif math.isinf(max_unpacked_size):
        unpack = UnpackLimits(max_ratio=math.inf)
    else:
        unpack = UnpackLimits(max_bytes=int(max_unpacked_size))
    ctx.with_resource(limits_in_effect(download, unpack))


def _chosen(value: float | None, default: float | None) -> float | None:
    """The option's value, the default when left out, None (no limit) for ``none``."""
    if value is None:
        return default
    return None if math.isinf(value) else value


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)
