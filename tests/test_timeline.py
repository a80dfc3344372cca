"""timeline: every collector's times on one UTC axis, garbage rejected with the record named."""

from __future__ import annotations

import calendar
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from timgen_data.errors import MalformedInputError, TimeValueError
from timgen_data.timeline import (
    NormalizedTime,
    local_hour,
    local_weekday,
    normalize_epochs,
    normalize_time,
    parse_zone,
)

RECORD = "ratings.csv line 12"
TS = calendar.timegm((2026, 1, 5, 10, 20, 30))  # 2026-01-05T10:20:30Z, a Monday
MIDNIGHT = calendar.timegm((2026, 1, 5, 0, 0, 0))


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (TS, "auto"),
        (TS * 1000 + 999, "auto"),  # Amazon 2023: milliseconds
        (TS * 10**6 + 123_456, "auto"),
        (TS * 10**9 + 999_999_999, "auto"),
        (TS + 0.999, "auto"),
        (str(TS * 1000), "auto"),
        (f"{TS}.5", "auto"),
        (np.int64(TS * 1000), "auto"),
        (np.float64(TS * 1000.0), "auto"),
        (TS * 1000, "ms"),
        (TS * 10**6, "us"),
        (str(TS * 10**9), "ns"),
    ],
)
def test_epoch_units_give_the_same_second(value, unit):
    got = normalize_time(value, unit=unit)
    assert got == NormalizedTime(TS, str(value), None, "second")


@pytest.mark.parametrize(("value", "unit"), [(-1.5, "s"), (-1500, "ms"), ("-1.000001", "s")])
def test_fractions_floor_toward_minus_infinity(value, unit):
    assert normalize_time(value, unit=unit, earliest=-10).ts == -2


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("2026-01-05T10:20:30Z", "UTC"),
        ("2026-01-05T12:20:30+02:00", "+02:00"),
        ("2026-01-05T12:20:30+0200", "+02:00"),
        ("2026-01-05T05:20:30-05:00", "-05:00"),
        ("2026-01-05T10:20:30.999999Z", "UTC"),
        ("2026-01-05 10:20:30", None),
        ("20260105T102030Z", "UTC"),
        ("2026-01-05 10:20:30 UTC", "UTC"),
        ("Mon, 05 Jan 2026 10:20:30 GMT", "UTC"),
        ("Mon, 05 Jan 2026 11:20:30 +0100", "+01:00"),
        ("Jan 5, 2026 10:20:30 AM", None),
    ],
)
def test_text_forms_and_their_own_zone(text, zone):
    assert normalize_time(text, record=RECORD) == NormalizedTime(TS, text, zone, "second")


def test_rfc2822_http_date():
    got = normalize_time("Tue, 15 Nov 1994 08:12:31 GMT")
    assert (got.ts, got.zone) == (calendar.timegm((1994, 11, 15, 8, 12, 31)), "UTC")
    assert normalize_time("Tue, 15 Nov 1994 09:12:31 +0100").ts == got.ts


@pytest.mark.parametrize("value", ["2026-01-05", "20260105", "January 5, 2026", "5 January 2026", date(2026, 1, 5)])
def test_date_only_is_local_midnight(value):
    assert normalize_time(value) == NormalizedTime(MIDNIGHT, str(value) if isinstance(value, str) else "2026-01-05",
                                                   None, "day")
    paris = normalize_time(value, zone="Europe/Paris")  # UTC+1 in winter
    assert (paris.ts, paris.zone, paris.precision) == (MIDNIGHT - 3600, "Europe/Paris", "day")


@pytest.mark.parametrize(
    ("zone", "shift", "name"),
    [("Asia/Kolkata", 5 * 3600 + 1800, "Asia/Kolkata"), ("+05:30", 19800, "+05:30"), ("-0800", -8 * 3600, "-08:00"),
     ("Z", 0, "UTC"), ("UTC", 0, "UTC")],
)
def test_naive_text_is_read_in_the_given_zone(zone, shift, name):
    got = normalize_time("2026-01-05 10:20:30", zone=zone)
    assert (got.ts, got.zone) == (TS - shift, name)


def test_own_zone_wins_over_the_given_one_and_original_is_kept():
    got = normalize_time(" 2026-01-05T12:20:30+02:00 ", zone="Asia/Tokyo")
    assert got == NormalizedTime(TS, " 2026-01-05T12:20:30+02:00 ", "+02:00", "second")
    aware = datetime(2026, 7, 1, 12, tzinfo=ZoneInfo("America/New_York"))
    assert normalize_time(aware) == NormalizedTime(calendar.timegm((2026, 7, 1, 16, 0, 0)), aware.isoformat(),
                                                   "America/New_York", "second")
    assert normalize_time(datetime(2026, 1, 5, 10, 20, 30, 999_999)).ts == TS
    assert normalize_time(TS, zone="Europe/Paris").zone == "Europe/Paris"


@pytest.mark.parametrize(
    ("when", "zone", "hour"),
    [((2026, 7, 1, 16), "America/New_York", 12), ((2026, 1, 5, 16), "America/New_York", 11),
     ((2026, 1, 5, 16), "+05:30", 21), ((2026, 1, 5, 16), "UTC", 16), ((2026, 3, 29, 1), "Europe/Paris", 3)],
)
def test_local_hour_follows_daylight_saving(when, zone, hour):
    assert local_hour(calendar.timegm((*when, 0, 0)), zone) == hour


@pytest.mark.parametrize(("zone", "weekday"), [("UTC", 6), ("+14:00", 0), ("Pacific/Kiritimati", 0), ("-10:00", 6)])
def test_local_weekday_across_midnight(zone, weekday):
    sunday_10_utc = calendar.timegm((2026, 1, 4, 10, 0, 0))
    assert local_weekday(sunday_10_utc, zone) == weekday


@pytest.mark.parametrize(
    ("value", "shown"),
    [("hello", "'hello'"), ("", "''"), ("   ", "'   '"), (None, "None"), (float("nan"), "nan"),
     (float("inf"), "inf"), (True, "True"), (np.bool_(False), "False"), ("5", "'5'"), ("2026", "'2026'"),
     ("January 2026", "'January 2026'"), ("nan", "'nan'"), ("1e999999999", "'1e999999999'"),
     ("Tue, 15 Nov 1994 08:12:31 XYZ", "XYZ"), ("January 5, 2026 10:00 QQT", "QQT"), ([TS], "[")],
)
def test_garbage_is_rejected_naming_record_and_value(value, shown):
    with pytest.raises(TimeValueError) as caught:
        normalize_time(value, record=RECORD)
    assert RECORD in str(caught.value) and shown in str(caught.value)
    assert isinstance(caught.value, MalformedInputError)


@pytest.mark.parametrize(
    ("value", "kwargs", "hint"),
    [
        (int(time.time()) + 10 * 86_400, {}, "outside the accepted range"),
        (-1, {}, "widen earliest="),
        ("1969-12-31T23:59:59Z", {}, "outside the accepted range"),
        ("2999-01-01", {}, "outside the accepted range"),
        (TS * 1000, {"unit": "s"}, "unit='ms'"),
        (TS * 10**6, {"unit": "ms"}, "unit='us'"),
        (TS, {"latest": TS - 1}, "outside the accepted range"),
        (TS, {"earliest": TS + 1}, "outside the accepted range"),
    ],
)
def test_out_of_range_says_how_to_fix(value, kwargs, hint):
    with pytest.raises(TimeValueError) as caught:
        normalize_time(value, record=RECORD, **kwargs)
    assert RECORD in str(caught.value) and str(value) in str(caught.value) and hint in str(caught.value)


def test_unknown_zone_and_unit_are_rejected():
    with pytest.raises(TimeValueError, match=rf"{RECORD}.*'Mars/Olympus'.*IANA"):
        normalize_time("2026-01-05", zone="Mars/Olympus", record=RECORD)
    with pytest.raises(TimeValueError, match="Europe/Paris"):
        parse_zone("Europe/Pari")
    for bad in ("Nowhere/City", "+25:00", "", "../etc/passwd"):
        with pytest.raises(TimeValueError):
            local_hour(TS, bad)
    with pytest.raises(TimeValueError, match="unit"):
        normalize_time(TS, unit="minutes")
    assert parse_zone("-0800").utcoffset(None).total_seconds() == -8 * 3600


def test_normalize_epochs_matches_normalize_time():
    ms = np.array([TS * 1000, TS * 1000 + 999, (TS - 86_400) * 1000 + 1], dtype=np.int64)
    got = normalize_epochs(ms, record="reviews.jsonl")
    assert got.dtype == np.int64
    assert got.tolist() == [normalize_time(int(v)).ts for v in ms]
    assert normalize_epochs([TS, TS + 1]).tolist() == [TS, TS + 1]
    assert normalize_epochs(np.array([TS + 0.9, TS - 0.1])).tolist() == [TS, TS - 1]
    assert normalize_epochs(np.array([TS * 10**9 + 1], dtype=np.uint64)).tolist() == [TS]
    assert normalize_epochs(np.array([str(TS * 1000)]), unit="ms").tolist() == [TS]
    assert normalize_epochs(np.array([], dtype=np.int64)).shape == (0,)


@pytest.mark.parametrize(
    ("values", "unit", "row", "hint"),
    [
        ([TS * 1000, TS * 1000, np.nan], "auto", 2, "nan"),
        ([TS, TS, int(time.time()) + 10 * 86_400], "auto", 2, "outside the accepted range"),
        ([TS * 1000, TS, TS * 1000], "auto", 1, "one unit"),  # a seconds value in a milliseconds column
        ([TS * 1000, TS * 1000], "s", 0, "unit='ms'"),
        ([TS, -5, TS], "s", 1, "-5"),
        (["1767608430", "soon"], "auto", 1, "'soon'"),
        ([TS, None], "auto", 1, "None"),
    ],
)
def test_normalize_epochs_names_the_first_bad_row(values, unit, row, hint):
    with pytest.raises(TimeValueError) as caught:
        normalize_epochs(np.array(values, dtype=object if None in values else None), unit=unit, record="ratings.csv")
    assert f"ratings.csv row {row}:" in str(caught.value) and hint in str(caught.value)


def test_utc_offsets_follow_the_zone_and_daylight_saving():
    from timgen_data.timeline import utc_offset_minutes, utc_offsets_in_zone

    winter, summer = 1579078800, 1594803600  # 2020-01-15T09:00Z, 2020-07-15T09:00Z
    assert utc_offset_minutes(winter, "America/New_York") == -300
    assert utc_offset_minutes(summer, "America/New_York") == -240
    assert utc_offset_minutes(summer, "+05:30") == 330
    assert utc_offsets_in_zone(np.array([winter, summer]), "Europe/Berlin").tolist() == [60, 120]
    assert utc_offsets_in_zone(np.array([winter, summer]), "Asia/Kathmandu").tolist() == [345, 345]
    assert utc_offsets_in_zone(np.array([winter]), "UTC").tolist() == [0]
