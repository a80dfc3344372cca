"""A platform's own interaction logs (CSV, JSON lines, Parquet; local or by URL) with a TOML column mapping."""

from timgen_data.collectors.events.collector import (
    COLLECTOR,
    MappingError,
    collect_events,
    resolve_inputs,
)
from timgen_data.collectors.events.convert import EventValueError, UnmappedActionError
from timgen_data.collectors.events.mapping import EventMapping, load_mapping

__all__ = [
    "COLLECTOR",
    "EventMapping",
    "EventValueError",
    "MappingError",
    "UnmappedActionError",
    "collect_events",
    "load_mapping",
    "resolve_inputs",
]
