"""Raw log values → interaction fields, vectorised over a batch (pure: no I/O).

Every check names the file, the line (or row), the column and the value, and shows the
row, so a user can fix the file or the mapping without guessing. Under ``on_error =
"stop"`` the first failing check raises; under ``"skip"`` failing rows are rejected with
their reason and the rest go on. Values of the action column the mapping does not know
follow ``action.unmapped`` instead: an error (the mapping is incomplete) or a count of
skipped rows per value (events the user chose not to keep).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from timgen_data.collectors.events.mapping import EventMapping
from timgen_data.collectors.events.read import Batch, shown, shown_row
from timgen_data.collectors.records import ACTIONS
from timgen_data.errors import ConfigError, MalformedInputError, TimeValueError
from timgen_data.timeline import (
    UNITS,
    epoch_unit,
    latest_accepted,
    normalize_time,
    parse_zone,
    unit_floor,
    utc_offsets_in_zone,
)

OUTPUT = ("user", "item", "ts", "action", "value", "duration", "device", "platform", "geo", "category", "title",
          "text", "utc_offset")
_TEXT_OUT = ("user", "item", "action", "device", "platform", "geo", "category", "title", "text")
_OFFSET_SUFFIX = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
# A numeric offset ending a time's text ("Z" is UTC by convention, not a local clock).
_NUMERIC_OFFSET = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*([+-])(\d{2}):?(\d{2})?$"
_SECOND = pd.Timedelta(seconds=1)


class EventValueError(MalformedInputError):
    """A log value does not fit the mapping (a time that does not parse, a number that is not one)."""


class UnmappedActionError(ConfigError):
    """The action column holds a value the mapping's ``[action.values]`` does not map."""


@dataclass
class Converted:
    frame: pd.DataFrame  # OUTPUT columns plus ``position``, only the rows kept
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (position, reason)
    unmapped: list[tuple[int, str]] = field(default_factory=list)  # (position, action value) left out


def convert_batch(batch: Batch, mapping: EventMapping, file: str, word: str) -> Converted:
    """Map one batch's raw values to our fields; see the module docstring for the error policy."""
    batch = replace(batch, frame=_as_objects(batch.frame))  # a copy: the caller's batch stays as read
    checker = _Checker(batch, mapping, file, word)
    raw = batch.frame
    n = len(raw)
    out: dict[str, object] = {}
    for name in ("user", "item"):
        out[name] = checker.required_text(name)
    if mapping.item_ids.format is not None:
        out["item"] = _formatted_items(out["item"], mapping, checker)
    out["ts"] = _times(raw["time"], mapping, checker)
    out["utc_offset"] = _utc_offsets(raw["time"], out["ts"], mapping.time.zone)
    out["action"] = _actions(raw, mapping, checker)
    for name in ("value", "duration"):
        out[name] = _numbers(raw, name, getattr(mapping.scale, name), checker) if name in raw else np.full(n, np.nan)
    if mapping.rating_scale is not None:
        _check_scale(out["value"], raw["value"], mapping, checker)
    for name in ("device", "platform", "geo", "category", "title", "text"):
        out[name] = _optional_text(raw[name]) if name in raw else np.full(n, None, dtype=object)
    # Object columns stay object: pandas would otherwise infer strings and turn None into NaN.
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) if k in _TEXT_OUT else v for k, v in out.items()})
    frame["position"] = batch.positions
    keep = ~checker.bad & ~checker.skipped
    return Converted(frame[keep].reset_index(drop=True), checker.rejected, checker.unmapped)


class _Checker:
    """Collects failing rows; raises at the first failure under ``on_error = "stop"``."""

    def __init__(self, batch: Batch, mapping: EventMapping, file: str, word: str) -> None:
        self.batch, self.mapping, self.file, self.word = batch, mapping, file, word
        self.bad = np.zeros(len(batch.frame), dtype=bool)
        self.skipped = np.zeros(len(batch.frame), dtype=bool)
        self.rejected: list[tuple[int, str]] = []
        self.unmapped: list[tuple[int, str]] = []
        self.columns = mapping.columns.used()

    def where(self, i: int) -> str:
        return f"{self.file} {self.word} {int(self.batch.positions[i])}"

    def example(self, i: int) -> str:
        row = self.batch.frame.iloc[i]
        return shown_row({self.columns[f]: row[f] for f in self.batch.frame.columns})

    def fail(self, mask: np.ndarray, reason: Callable[[int], str], fix: str) -> None:
        mask = np.asarray(mask, dtype=bool) & ~self.bad & ~self.skipped
        if not mask.any():
            return
        rows = np.flatnonzero(mask)
        if self.mapping.on_error == "stop":
            first = int(rows[0])
            more = f" (and {len(rows) - 1} more rows like it in this batch)" if len(rows) > 1 else ""
            raise EventValueError(f"{self.where(first)}: {reason(first)}{more}; row: {self.example(first)}; "
                                  f"{fix}, or set on_error = \"skip\" in the mapping to reject such rows. "
                                  "Nothing was stored.")
        self.bad |= mask
        self.rejected.extend((int(self.batch.positions[i]), reason(int(i))) for i in rows)

    def required_text(self, name: str) -> np.ndarray:
        values = self.batch.frame[name]
        text = _optional_text(values)
        nested = _invalid_text(values, pd.isna(text))
        column = self.columns[name]
        self.fail(nested, lambda i: f"column {column!r} ({name}) holds a nested value, not an id",
                  f"every row needs a plain {name} id")
        self.fail(pd.isna(text), lambda i: f"column {column!r} ({name}) is empty", f"every row needs a {name}")
        return text


def _formatted_items(ids: np.ndarray, mapping: EventMapping, checker: _Checker) -> np.ndarray:
    """Item ids in their source's form (``tt%07d``: "0120735" → "tt0120735"), once per distinct id."""
    spec = mapping.item_ids
    written: dict[str, str] = {}
    for raw in pd.unique(ids[pd.notna(ids)]):
        try:
            written[raw] = spec.apply(raw)
        except ValueError:
            pass
    out = np.array([None if v is None else written.get(v) for v in ids], dtype=object)
    column = checker.columns["item"]
    checker.fail(pd.notna(ids) & pd.isna(out), lambda i: f"column {column!r} (item) holds {ids[i]!r}, which "
                 f"item_ids.format {spec.format!r} cannot write (it takes a whole number)",
                 "fix the value, or the mapping's [item_ids] format (%s takes any id)")
    return out


def _outside_scale(values: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Rows whose value lies outside ``scale`` (a missing value is in no scale's way)."""
    low, high = scale
    return np.isfinite(values) & ((values < low) | (values > high))


def _check_scale(values: np.ndarray, raw: pd.Series, mapping: EventMapping, checker: _Checker) -> None:
    low, high = mapping.rating_scale
    column = checker.columns["value"]
    checker.fail(_outside_scale(values, mapping.rating_scale),
                 lambda i: f"column {column!r} (value) holds {shown(raw.iloc[i])!r}, outside rating_scale "
                 f"[{low:g}, {high:g}]", "fix the value, or the mapping's rating_scale")


def _times(raw: pd.Series, mapping: EventMapping, checker: _Checker) -> np.ndarray:
    spec = mapping.time
    column = checker.columns["time"]
    present = raw.notna().to_numpy()
    checker.fail(~present, lambda i: f"column {column!r} (time) is empty", "every row needs a time")
    ts = np.zeros(len(raw), dtype=np.int64)
    if not present.any():
        return ts
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):  # Parquet timestamps: already typed
        parsed, reason = _localize(raw, spec.zone), "is not a time"
        ts, ok = _seconds(parsed)
    elif spec.format.startswith("epoch_") or (spec.format == "auto" and _all_numeric(raw)):
        return _epochs(raw, mapping, checker, present)
    else:
        ts, ok, reason = _text_times(raw.where(raw.notna(), None), spec.format, spec.zone)
    fix = f"fix the value, or the mapping's [time] format (now {spec.format!r}) or zone (now {spec.zone!r})"
    checker.fail(present & ~ok, lambda i: f"column {column!r} (time) holds {shown(raw.iloc[i])!r}, which "
                 f"{reason(i) if callable(reason) else reason}", fix)
    _check_range(ts, present & ok, raw, column, checker, fix)
    return ts


def _utc_offsets(raw: pd.Series, ts: np.ndarray, zone: str) -> np.ndarray:
    """Minutes each row's local clock is ahead of UTC (None: unknown): the offset its text ends
    with, else the mapping's zone at that instant; a log in UTC says nothing of its users' clocks."""
    offsets = np.full(len(raw), None, dtype=object)
    if parse_zone(zone) is not UTC:
        offsets[:] = utc_offsets_in_zone(ts, zone).tolist()
    if raw.dtype == object:
        text = raw.map(lambda v: v.strip() if isinstance(v, str) else None)
        found = text.str.extract(_NUMERIC_OFFSET)
        given = found[0].notna().to_numpy()
        if given.any():
            minutes = found[1][given].astype(int) * 60 + found[2][given].fillna("0").astype(int)
            offsets[given] = np.where(found[0][given] == "-", -minutes, minutes).tolist()
    return offsets


def _text_times(raw: pd.Series, fmt: str, zone: str):
    """Parse text times; returns (ts, ok mask, reason for a failed row)."""
    text = raw.map(lambda v: v if v is None or isinstance(v, str) else str(v))
    if "%" in fmt:
        aware = "%z" in fmt or "%Z" in fmt
        parsed = pd.to_datetime(text, format=fmt, errors="coerce", utc=aware)
        parsed_ok = parsed.notna().to_numpy()
        if not aware:
            parsed = _localize(parsed, zone)
        ts, ok = _seconds(parsed)
        return ts, ok, lambda i: (f"does not match time.format {fmt!r}" if not parsed_ok[i]
                                  else f"does not exist in {zone} (a daylight-saving gap)")
    with_offset = text.str.contains(_OFFSET_SUFFIX, regex=True, na=False).to_numpy()
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if with_offset.any():
        parsed[with_offset] = pd.to_datetime(text[with_offset], format="ISO8601", errors="coerce", utc=True)
    if (~with_offset).any():
        naive = pd.to_datetime(text[~with_offset], format="ISO8601", errors="coerce")
        parsed[~with_offset] = _localize(naive, zone).dt.tz_convert("UTC")
    ts, ok = _seconds(parsed)
    reasons: dict[int, str] = {}
    if fmt == "auto":
        # Not ISO 8601: RFC 2822, "January 5, 2026", … through the timeline's reader, once per distinct value.
        rest = np.flatnonzero(~ok & text.notna().to_numpy())
        for value, rows in pd.Series(rest).groupby(text.iloc[rest].to_numpy()):
            try:
                ts[rows.to_numpy()] = normalize_time(value, zone=zone, earliest=-(2**62), latest=2**62).ts
                ok[rows.to_numpy()] = True
            except TimeValueError as exc:
                # The timeline's message names the value already; keep what it expected.
                expected_text = str(exc).split("; ", 1)[-1]
                for i in rows:
                    reasons[int(i)] = f"is not a time ({expected_text})"
    expected = "is not ISO 8601 ('2026-01-05T10:20:30Z')" if fmt == "iso8601" else "is not a time"
    return ts, ok, lambda i: reasons.get(i, expected)


def _epochs(raw: pd.Series, mapping: EventMapping, checker: _Checker, present: np.ndarray) -> np.ndarray:
    column = checker.columns["time"]
    numbers = _floats(raw)
    finite = np.isfinite(numbers)
    fix = f"fix the value, or the mapping's [time] format (now {mapping.time.format!r})"
    checker.fail(present & ~finite, lambda i: f"column {column!r} (time) holds {shown(raw.iloc[i])!r}, which is "
                 "not an epoch number", fix)
    magnitude = np.abs(np.where(finite, numbers, 0.0))
    if mapping.time.format == "auto":
        unit = epoch_unit(float(magnitude.max()))
        mixed = finite & (magnitude < unit_floor(unit))
        checker.fail(mixed, lambda i: f"column {column!r} (time) holds {shown(raw.iloc[i])!r}, which looks like "
                     f"epoch {_UNIT_WORDS[epoch_unit(magnitude[i])]} while other rows look like {_UNIT_WORDS[unit]}",
                     "one column must use one unit: fix the file, or name the unit in [time] format")
    else:
        unit = mapping.time.format.removeprefix("epoch_")
    ts = np.floor(np.where(finite, numbers, 0.0) / UNITS[unit])
    # Exact integer division where the float path could round (milliseconds beyond 2**53 do not occur).
    ints = _exact_ints(raw)
    if ints is not None:
        ts = ints // UNITS[unit]
    ts = ts.astype(np.int64)
    _check_range(ts, present & finite, raw, column, checker, fix)
    return ts


_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _check_range(ts: np.ndarray, ok: np.ndarray, raw: pd.Series, column: str, checker: _Checker, fix: str) -> None:
    latest = latest_accepted()
    out = ok & ((ts < 0) | (ts > latest))
    checker.fail(out, lambda i: f"column {column!r} (time) holds {shown(raw.iloc[i])!r}, which reads as "
                 f"{_iso(int(ts[i]))}, outside 1970 … now", fix + " (is the unit or the zone right?)")


def _iso(ts: int) -> str:
    try:
        return pd.Timestamp(ts, unit="s", tz="UTC").isoformat()
    except (OverflowError, ValueError):
        return f"epoch second {ts}"


def _localize(parsed: pd.Series, zone: str) -> pd.Series:
    """Naive wall-clock times in ``zone`` → aware; an ambiguous hour (DST fall-back) takes its first instant."""
    if getattr(parsed.dt, "tz", None) is not None:
        return parsed
    return parsed.dt.tz_localize(parse_zone(zone), ambiguous=np.ones(len(parsed), dtype=bool), nonexistent="NaT")


def _seconds(parsed: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    ok = parsed.notna().to_numpy().copy()
    epoch = pd.Timestamp(0, tz="UTC")
    seconds = ((parsed.dt.tz_convert("UTC") - epoch) // _SECOND).to_numpy(dtype=np.float64, na_value=0.0)
    return seconds.astype(np.int64), ok


def _all_numeric(raw: pd.Series) -> bool:
    present = raw.dropna()
    if present.empty:
        return False
    if pd.api.types.is_numeric_dtype(present.dtype):
        return True
    return bool(np.isfinite(_floats(present)).all())


def _actions(raw: pd.DataFrame, mapping: EventMapping, checker: _Checker) -> np.ndarray:
    n = len(raw)
    if mapping.action.fixed is not None:
        return np.full(n, mapping.action.fixed, dtype=object)
    column = checker.columns["action"]
    values = raw["action"]
    present = values.notna().to_numpy()
    checker.fail(~present, lambda i: f"column {column!r} (action) is empty", "every row needs an action")
    text = values.where(values.notna(), None)
    # Our own action names map to themselves unless [action.values] says otherwise.
    table = {a: a for a in ACTIONS} | mapping.action.values
    mapped = text.map(table)
    unknown = present & mapped.isna().to_numpy() & ~checker.bad
    if unknown.any():
        if mapping.action.unmapped == "error":
            first = int(np.flatnonzero(unknown)[0])
            seen = sorted(set(text[unknown]))
            targets = ", ".join(ACTIONS)
            hint = f"add it to [action.values] as `{seen[0]} = \"<one of {targets}>\"`"
            raise UnmappedActionError(
                f"{checker.where(first)}: column {column!r} (action) holds {seen[0]!r}, which the mapping does not "
                f"map (values not mapped in this batch: {', '.join(map(repr, seen[:10]))}); row: "
                f"{checker.example(first)}; {hint}, or set action.unmapped = \"skip\" to leave such rows out. "
                "Nothing was stored.")
        checker.skipped |= unknown
        checker.unmapped.extend(zip(checker.batch.positions[unknown].tolist(), text[unknown].tolist()))
    return mapped.to_numpy(dtype=object)


def _numbers(raw: pd.DataFrame, name: str, scale: float, checker: _Checker) -> np.ndarray:
    column = checker.columns[name]
    values = raw[name]
    numbers = _floats(values)
    present = values.notna().to_numpy()
    bad = present & ~np.isfinite(numbers)
    checker.fail(bad, lambda i: f"column {column!r} ({name}) holds {shown(values.iloc[i])!r}, which is not a "
                 "finite number", "fix the value")
    return numbers * scale


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain objects with None for missing (pandas may hand Arrow strings with NaN)."""
    out = {}
    for name, values in frame.items():
        if values.dtype == object or pd.api.types.is_datetime64_any_dtype(values.dtype) or \
                pd.api.types.is_numeric_dtype(values.dtype):
            out[name] = values  # the text readers already give None for missing
        else:
            out[name] = pd.Series(values.astype(object).where(values.notna(), None).to_numpy(), index=frame.index,
                                  dtype=object)
    return pd.DataFrame(out)


def _optional_text(values: pd.Series) -> np.ndarray:
    """Trimmed text with None for missing or blank, as an object array (Arrow's kernels on the common path)."""
    try:
        array = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers or nested values from JSON: one by one
        return np.array([_one_text(v) for v in values], dtype=object)
    trimmed = pc.utf8_trim_whitespace(array)
    blank = pc.equal(pc.utf8_length(trimmed), 0)
    return pc.if_else(blank, pa.scalar(None, pa.string()), trimmed).to_numpy(zero_copy_only=False)


def _one_text(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list)) or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value).strip() or None


def _invalid_text(values: pd.Series, missing: np.ndarray) -> np.ndarray:
    """Rows holding a JSON object or list (only rows whose text came out missing can)."""
    nested = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(missing):
        nested[i] = isinstance(values.iloc[i], (dict, list))
    return nested


def _floats(values: pd.Series) -> np.ndarray:
    """Numbers as float64 with NaN where missing or not a number (Arrow's cast on the common path)."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        array = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        return pc.cast(array, pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _exact_ints(values: pd.Series) -> np.ndarray | None:
    """The column as int64 when every value is a whole number written as one (no float rounding), else None."""
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        return values.to_numpy(dtype=np.int64)
    if values.dtype != object:
        return None
    listed = values.tolist()
    if all(type(v) is int for v in listed):  # JSON numbers: exact already
        return np.array(listed, dtype=np.int64)
    try:
        array = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        if array.null_count:
            return None
        return pc.cast(array, pa.int64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
