"""Holiday flags from the ``holidays`` calendar, on the interaction's local date."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from timgen_data.dataset.holiday_flags import country_of, holiday_flags

CHRISTMAS_EVENING_NEW_YORK = 1608957000  # 2020-12-25T23:30-05:00 = 2020-12-26T04:30Z


def test_geos_that_are_country_or_subdivision_codes_name_a_country():
    assert country_of("US") == ("US", None)
    assert country_of(" de-by ") == ("DE", "BY")
    assert country_of("US-ZZ") == ("US", None)  # an unknown subdivision: the country's holidays alone
    assert [country_of(g) for g in ("", None, "Paris", "10115", "USA", "XX")] == [None] * 6


def test_flags_are_taken_on_the_local_date_of_the_geo_country():
    ts = np.array([CHRISTMAS_EVENING_NEW_YORK] * 3 + [1601719200, 1601719200, 1584705600])
    offsets = pa.array([-300, None, -300, 120, 120, None], pa.int32())
    geos = pa.array(["US", "US", "Paris", "DE", "FR", "DE-BY"])
    assert holiday_flags(ts, offsets, geos).to_pylist() == [
        True,  # Christmas Day on the New York clock
        False,  # read in UTC it is December 26: no US holiday
        None,  # no country, no flag
        True,  # German Unity Day
        False,  # not a French holiday
        False,  # 2020-03-20 in Bavaria
    ]
    # Bavaria keeps Epiphany, Germany as a whole does not.
    epiphany = np.array([1578312000, 1578312000])  # 2020-01-06T12:00Z
    assert holiday_flags(epiphany, pa.array([None, None], pa.int32()), pa.array(["DE-BY", "DE"])).to_pylist() == [
        True, False]


def test_no_country_anywhere_gives_a_null_column():
    flags = holiday_flags(np.array([0, 86400]), pa.array([None, None], pa.int32()), pa.array(["", ""]))
    assert flags.null_count == 2 and flags.type == pa.bool_()
