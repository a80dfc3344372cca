"""Whether each interaction fell on a public holiday of its geo's country, on its local date.

The calendar is the maintained ``holidays`` library. A geo names a country when it is an
ISO 3166-1 alpha-2 code ("US", "de") or an ISO 3166-2 subdivision code ("US-CA", "DE-BY":
the subdivision's own holidays count too), as the library knows them; any other geo (a
city, a zip code, "") has no flag (null), and neither has an interaction without a geo.
The local date is the UTC time moved by the interaction's UTC offset (unknown: UTC).
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_DAY = 86_400


@cache
def _supported() -> dict[str, frozenset[str]]:
    import holidays  # imported on first use: it loads a calendar per country

    return {country: frozenset(subdivisions) for country, subdivisions in holidays.list_supported_countries().items()}


def country_of(geo: str | None) -> tuple[str, str | None] | None:
    """(country, subdivision or None) when ``geo`` is an ISO country or subdivision code the
    calendar knows, else None.

    >>> country_of("us-ca"), country_of("DE"), country_of("Paris"), country_of("US-ZZ")
    (('US', 'CA'), ('DE', None), None, ('US', None))
    """
    if not geo:
        return None
    country, _, subdivision = geo.strip().upper().partition("-")
    known = _supported().get(country)
    if known is None or not country.isalpha() or len(country) != 2:
        return None
    return country, (subdivision if subdivision in known else None)


@lru_cache(maxsize=256)
def _calendar(country: str, subdivision: str | None):
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision)


def holiday_flags(ts: np.ndarray, utc_offsets: pa.Array, geos: pa.Array) -> pa.Array:
    """One nullable bool per interaction: its local date is a holiday in its geo's country."""
    n = len(ts)
    flags = np.zeros(n, dtype=bool)
    known = np.zeros(n, dtype=bool)
    if n == 0:
        return pa.array(flags, pa.bool_())
    encoded = pc.dictionary_encode(geos.cast(pa.string()))
    places = [country_of(geo) for geo in encoded.dictionary.to_pylist()]
    if not any(places):
        return pa.nulls(n, pa.bool_())
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    minutes = utc_offsets.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    days = (np.asarray(ts, dtype=np.int64) + minutes * 60) // _DAY
    for code, place in enumerate(places):
        if place is None:
            continue
        rows = np.flatnonzero(codes == code)
        distinct, back = np.unique(days[rows], return_inverse=True)
        calendar = _calendar(*place)
        dates = distinct.astype("datetime64[D]").tolist()
        flags[rows] = np.array([date in calendar for date in dates], dtype=bool)[back]
        known[rows] = True
    return pa.array(flags, pa.bool_(), mask=~known)
