"""One UTC timeline for every source and stage.

Sources disagree about time: MovieLens writes epoch seconds, Amazon 2023 epoch
milliseconds, web pages ISO 8601, RFC 2822 or "January 5, 2026", some with an offset and
some without. ``normalize_time`` reads any of them as UTC epoch seconds (an int), keeps the
original text and the zone when it is known, and rejects garbage and out-of-range values
with a ``TimeValueError`` naming the record, so a unit mix-up fails loudly instead of
moving a dataset to 1970 or to the year 55000. ``normalize_epochs`` does the same for a
whole numeric column at numpy speed; ``local_hour`` and ``local_weekday`` give the
DST-correct local clock in a known zone, and ``utc_offset_minutes`` / ``utc_offsets_in_zone``
the offset of that clock from UTC, which is what the store keeps of a zone.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_FLOOR, Decimal, localcontext
from email.utils import parsedate_to_datetime
from functools import lru_cache
from numbers import Integral, Real
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import pandas as pd
from dateutil import parser as dateutil_parser

from timgen_data.errors import TimeValueError

EARLIEST = 0  # 1970-01-01T00:00:00Z
FUTURE_SLACK = 2 * 86_400  # clocks and zones disagree a little; tomorrow is not garbage
UNITS = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_UNIT_NAMES = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
# Lower magnitude bound of each unit under "auto": 1e11 s is the year 5138, so a larger
# value cannot be seconds, and so on up the ladder.
_AUTO_FLOOR = {"s": 0.0, "ms": 1e11, "us": 1e14, "ns": 1e17}
# Under "auto", numeric text below 1e8 (1973-03-03 in seconds) is far more often a day, a
# rating or a count than a time, and "20260105" is an ISO basic date, not 1970-08-23.
_MIN_EPOCH_TEXT = Decimal(10**8)
_HUGE = Decimal("1e30")  # beyond any unit's range; stops int() on "1e999999999"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_UTC_NAMES = {"UTC", "Z", "GMT", "UT"}
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})?")
_RFC2822 = re.compile(r"(?:[A-Za-z]{3},?\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s+(\S+))?")
_MONTH = re.compile(r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
                    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)\d{4}(?!\d)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# dateutil fills missing fields from its default; two defaults that differ in every field
# reveal what the text really gave, so "January 2026" is never read as a day.
_DEFAULTS = (datetime(2000, 1, 1), datetime(2004, 2, 2, 1, 1, 1))
_EXPECTED = ("expected epoch seconds/milliseconds, ISO 8601 ('2026-01-05T10:20:30Z'), RFC 2822 "
             "('Tue, 15 Nov 1994 08:12:31 GMT') or a date like 'January 5, 2026'")


@dataclass(frozen=True)
class NormalizedTime:
    ts: int  # UTC epoch seconds
    original: str  # the value exactly as given, as text
    zone: str | None  # IANA name or fixed offset ("+05:30", "UTC") when known
    precision: str  # "second" or "day"


def normalize_time(value: object, *, unit: str = "auto", zone: str | None = None, record: str | None = None,
                   earliest: int = EARLIEST, latest: int | None = None) -> NormalizedTime:
    """Read one time value (epoch number, datetime, date or text) as UTC epoch seconds."""
    where = record or "time value"
    _check_unit(unit, where)
    tz, zone_name = _require_zone(zone, where) if zone is not None else (None, None)
    shown = _show(value)
    epoch = None
    if value is None or isinstance(value, (bool, np.bool_)):
        raise TimeValueError(f"{where}: {shown} is not a time; {_EXPECTED}")
    if isinstance(value, date):  # datetime included
        precision = "second" if isinstance(value, datetime) else "day"
        dt = value if isinstance(value, datetime) else datetime(value.year, value.month, value.day)
        ts, zone_name = _from_datetime(dt, tz, zone_name)
        original = value.isoformat()
    elif isinstance(value, str):
        ts, zone_name, precision, epoch = _from_text(value, unit, tz, zone_name, where, shown)
        original = value
    elif isinstance(value, (Real, Decimal)):
        number = Decimal(int(value)) if isinstance(value, Integral) else Decimal(
            value if isinstance(value, Decimal) else float(value))
        ts, epoch = _from_epoch(number, unit, where, shown)
        precision, original = "second", str(value)
    else:
        raise TimeValueError(f"{where}: cannot read {shown} ({type(value).__name__}) as a time; {_EXPECTED}")
    _check_range(ts, earliest, _latest(latest), where, shown, epoch)
    return NormalizedTime(ts, original, zone_name, precision)


def normalize_epochs(values: np.ndarray | Sequence, *, unit: str = "auto", record: str | None = None,
                     earliest: int = EARLIEST, latest: int | None = None) -> np.ndarray:
    """Read a numeric column of epoch values as int64 UTC seconds, all in one unit."""
    where = f"{record} row" if record else "row"
    _check_unit(unit, record or "epochs")
    latest = _latest(latest)
    original = np.atleast_1d(np.asarray(values))
    arr = _numeric(original, where)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64)
    floats = arr.astype(np.float64, copy=False)
    finite = np.isfinite(floats)
    used, mixed = unit, np.zeros(arr.shape, dtype=bool)
    if unit == "auto":
        magnitude = np.abs(floats, where=finite, out=np.zeros_like(floats))
        used = _auto_unit(float(magnitude.max()))
        # One column is one unit: a value that alone would read as a smaller unit is a mix-up.
        mixed = finite & (magnitude < _AUTO_FLOOR[used])
    factor = UNITS[used]
    ts = np.floor(np.where(finite, floats, 0) / factor) if arr.dtype.kind == "f" else arr // factor
    bad = ~finite | mixed | (ts < earliest) | (ts > latest)
    if not bad.any():
        return ts.astype(np.int64)
    i = int(np.argmax(bad))
    shown = _show(original[i].item() if isinstance(original[i], np.generic) else original[i])
    if not finite[i]:
        raise TimeValueError(f"{where} {i}: {shown} is not a finite number; expected epoch {_UNIT_NAMES[used]}")
    if mixed[i]:
        biggest = original[int(np.argmax(magnitude))]
        raise TimeValueError(
            f"{where} {i}: {shown} looks like {_UNIT_NAMES[_auto_unit(float(magnitude[i]))]} while the column's "
            f"largest value {biggest} looks like {_UNIT_NAMES[used]}; one column must use one unit: fix the "
            f"source, or pass unit= explicitly")
    number = Decimal(int(arr[i])) if arr.dtype.kind != "f" else Decimal(float(arr[i]))
    _check_range(int(ts[i]), earliest, latest, f"{where} {i}", shown, (number, used))
    raise AssertionError("unreachable: row flagged bad but in range")  # pragma: no cover


def local_hour(ts: int, zone: str) -> int:
    """Hour of the day (0..23) at UTC epoch second ``ts`` in ``zone``."""
    return _local(ts, zone).hour


def local_weekday(ts: int, zone: str) -> int:
    """Day of the week (Monday = 0 .. Sunday = 6) at UTC epoch second ``ts`` in ``zone``."""
    return _local(ts, zone).weekday()


def utc_offset_minutes(ts: int, zone: str) -> int:
    """Minutes the local clock of ``zone`` is ahead of UTC at UTC epoch second ``ts`` (DST included).

    >>> utc_offset_minutes(1608957000, "America/New_York")  # 2020-12-26T04:30Z, 23:30 on the 25th in New York
    -300
    """
    return int(_local(ts, zone).utcoffset() // timedelta(minutes=1))


def utc_offsets_in_zone(ts: np.ndarray, zone: str) -> np.ndarray:
    """``utc_offset_minutes`` of a whole int64 column of UTC epoch seconds, at pandas speed."""
    tz = parse_zone(zone)
    if tz is UTC:
        return np.zeros(len(ts), dtype=np.int32)
    utc = pd.to_datetime(np.asarray(ts, dtype=np.int64), unit="s")
    local = utc.tz_localize(UTC).tz_convert(tz).tz_localize(None)  # the wall clock, read as if it were UTC
    return np.asarray((local - utc) // pd.Timedelta(minutes=1), dtype=np.int32)


def parse_zone(zone: str) -> tzinfo:
    """An IANA name ("Europe/Paris"), a fixed offset ("+05:30", "-0800") or "UTC"/"Z" as a tzinfo."""
    return _require_zone(zone, None)[0]


@lru_cache(maxsize=512)
def _zone(zone: str) -> tuple[tzinfo, str] | None:
    name = zone.strip()
    if name.upper() in _UTC_NAMES:
        return UTC, "UTC"
    if m := _OFFSET.fullmatch(name):
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes) * (1 if m.group(1) == "+" else -1)
        return (timezone(offset), _offset_name(offset)) if offset else (UTC, "UTC")
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _require_zone(zone: object, where: str | None) -> tuple[tzinfo, str]:
    found = _zone(zone) if isinstance(zone, str) else None
    if found is None:
        names = {z.lower(): z for z in available_timezones()}  # only on the error path: it reads the disk
        close = difflib.get_close_matches(str(zone).strip().lower(), names, n=1, cutoff=0.75)
        hint = f" (closest IANA name: {names[close[0]]!r})" if close else ""
        prefix = f"{where}: " if where else ""
        raise TimeValueError(f"{prefix}unknown time zone {zone!r}{hint}; use an IANA name such as "
                             f"'America/New_York', a fixed offset like '+05:30', or 'UTC'")
    return found


def _offset_name(offset: timedelta) -> str:
    seconds = int(offset.total_seconds())
    if seconds == 0:
        return "UTC"
    hours, rest = divmod(abs(seconds), 3600)
    return f"{'+' if seconds > 0 else '-'}{hours:02d}:{rest // 60:02d}"


def _from_datetime(dt: datetime, tz: tzinfo | None, zone_name: str | None) -> tuple[int, str | None]:
    if dt.tzinfo is None or dt.utcoffset() is None:
        return (dt.replace(tzinfo=tz or UTC) - _EPOCH) // _SECOND, zone_name
    # The value's own zone wins over the caller's: it is what the record says.
    own = dt.tzinfo
    name = own.key if isinstance(own, ZoneInfo) else getattr(own, "zone", None)  # "zone": pytz
    return (dt - _EPOCH) // _SECOND, name if isinstance(name, str) else _offset_name(dt.utcoffset())


def _from_epoch(number: Decimal, unit: str, where: str, shown: str) -> tuple[int, tuple[Decimal, str]]:
    if not number.is_finite() or number.copy_abs() > _HUGE:
        raise TimeValueError(f"{where}: {shown} is not a plausible epoch number; {_EXPECTED}")
    used = _auto_unit(float(number.copy_abs())) if unit == "auto" else unit
    return _floor_div(number, UNITS[used]), (number, used)


def _from_text(text: str, unit: str, tz: tzinfo | None, zone_name: str | None, where: str, shown: str):
    s = text.strip()
    if not s:
        raise TimeValueError(f"{where}: empty time value {shown}; {_EXPECTED}")
    if _NUMBER.fullmatch(s):
        number = Decimal(s)
        if unit != "auto" or number.copy_abs() >= _MIN_EPOCH_TEXT:
            ts, epoch = _from_epoch(number, unit, where, shown)
            return ts, zone_name, "second", epoch
        if not (s.isdigit() and len(s) == 8):  # 8 digits may be an ISO basic date: YYYYMMDD
            raise TimeValueError(f"{where}: {shown} is too small to be an epoch time (numbers under 1e8 are days, "
                                 f"ratings or counts more often than 1970); {_EXPECTED}, or pass unit= explicitly")
    parsed = _parse_text(s, where, shown)
    if parsed is None:
        raise TimeValueError(f"{where}: cannot read {shown} as a time; {_EXPECTED}")
    ts, zone_name = _from_datetime(parsed[0], tz, zone_name)
    return ts, zone_name, parsed[1], None


def _parse_text(s: str, where: str, shown: str) -> tuple[datetime, str] | None:
    try:
        day = date.fromisoformat(s)
        return datetime(day.year, day.month, day.day), "day"
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(s), "second"
    except ValueError:
        pass
    if m := _RFC2822.fullmatch(s):
        try:
            dt = parsedate_to_datetime(s)
        except (ValueError, TypeError, IndexError):
            dt = None
        if dt is not None:
            # email.utils silently drops zone names it does not know; "-0000" means "unknown" by RFC.
            if dt.tzinfo is None and m.group(1) not in (None, "-0000"):
                raise TimeValueError(f"{where}: unknown zone {m.group(1)!r} in {shown}; "
                                     f"use a numeric offset like +0100")
            return dt, "second"
    # dateutil is permissive ("5" is a day this month), so only clearly dated text reaches
    # it: a 4-digit year and a month name, or a leading YYYY-MM-DD.
    if not (_YEAR.search(s) and (_MONTH.search(s) or _ISO_DATE.match(s))):
        return None
    try:
        a, b = (dateutil_parser.parse(s, default=d, tzinfos=_dateutil_zone) for d in _DEFAULTS)
    except _UnknownZone as exc:
        raise TimeValueError(f"{where}: unknown zone {exc.args[0]!r} in {shown}; use a numeric offset "
                             f"like +0100 or pass zone= with an IANA name") from None
    except (ValueError, OverflowError):
        return None
    if a.date() != b.date():
        return None  # year, month or day came from the default, not the text
    return a, ("second" if a.hour == b.hour else "day")


class _UnknownZone(Exception):
    """A zone abbreviation dateutil would otherwise drop with a warning (or read as local)."""


def _dateutil_zone(name: str | None, offset: int | None) -> tzinfo | None:
    if offset is not None:
        return timezone(timedelta(seconds=offset)) if offset else UTC
    if name:
        raise _UnknownZone(name)
    return None


def _auto_unit(magnitude: float) -> str:
    return next(u for u in ("ns", "us", "ms", "s") if magnitude >= _AUTO_FLOOR[u])


def epoch_unit(magnitude: float) -> str:
    """The epoch unit ("s", "ms", "us", "ns") a value of this size must be in (the "auto" rule)."""
    return _auto_unit(abs(magnitude))


def unit_floor(unit: str) -> float:
    """The smallest magnitude the "auto" rule reads as ``unit``; a smaller value in a column of that unit is a mix-up."""
    return _AUTO_FLOOR[unit]


def latest_accepted() -> int:
    """The latest UTC second accepted as a real time: now, plus a little slack for clocks and zones."""
    return _latest(None)


def _floor_div(number: Decimal, factor: int) -> int:
    with localcontext() as ctx:
        ctx.prec = 80  # exact for any float's decimal expansion in range, so floor is exact
        return int((number / factor).to_integral_value(rounding=ROUND_FLOOR))


def _check_range(ts: int, earliest: int, latest: int, where: str, shown: str,
                 epoch: tuple[Decimal, str] | None) -> None:
    if earliest <= ts <= latest:
        return
    read_as, fix = "", "check the source value, or widen earliest=/latest= if such times are real"
    if epoch is not None:
        number, used = epoch
        read_as = f" read as {_UNIT_NAMES[used]}"
        fits = [u for u in UNITS if u != used and earliest <= _floor_div(number, UNITS[u]) <= latest]
        if fits:
            fix = f"it looks like {_UNIT_NAMES[fits[0]]}: pass unit='{fits[0]}'"
    raise TimeValueError(f"{where}: time {shown}{read_as} is {_iso(ts)}, outside the accepted range "
                         f"{_iso(earliest)} .. {_iso(latest)}; {fix}")


def _check_unit(unit: str, where: str) -> None:
    if unit != "auto" and unit not in UNITS:
        raise TimeValueError(f"{where}: unknown unit {unit!r}; use 'auto', 's', 'ms', 'us' or 'ns'")


def _numeric(arr: np.ndarray, where: str) -> np.ndarray:
    """The column as int64 (exact, ns epochs need all 64 bits) or float64."""
    kind = arr.dtype.kind
    if kind == "i" or (kind == "u" and (not arr.size or arr.max() <= np.iinfo(np.int64).max)):
        return arr.astype(np.int64, copy=False)
    if kind in "uf":
        return arr.astype(np.float64, copy=False)
    # Object columns go through float: int64 would silently truncate a 1.5 among them.
    for dtype in (np.int64, np.float64) if kind in "US" else (np.float64,) if kind == "O" else ():
        try:
            return arr.astype(dtype)
        except (ValueError, TypeError, OverflowError):
            pass
    for i, v in enumerate(arr.tolist()):  # error path only: find the row to name
        if isinstance(v, (bool, date)) or not isinstance(v, (int, float, str)) or not _NUMBER.fullmatch(str(v).strip()):
            raise TimeValueError(f"{where} {i}: {_show(v)} is not an epoch number; expected a numeric column")
    raise TimeValueError(f"{where} 0: a column of {arr.dtype} is not epoch numbers; expected a numeric column")


def _local(ts: int, zone: str) -> datetime:
    tz = parse_zone(zone)
    try:
        return datetime.fromtimestamp(math.floor(ts), tz)
    except (OverflowError, OSError, ValueError, TypeError) as exc:
        raise TimeValueError(f"time {ts!r} cannot be placed on a calendar ({exc}); "
                             f"expected UTC epoch seconds") from None


def _latest(latest: int | None) -> int:
    return int(time.time()) + FUTURE_SLACK if latest is None else latest


def _iso(ts: int) -> str:
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return f"epoch second {ts}"


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."
