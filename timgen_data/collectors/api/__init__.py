"""What every API or crawl source shares: the raw-response log and its replay, credentials,
cursors in ``collection_state``, and the runner that ties them to a run's ``sources`` row.

A source brings only what is its own: the requests it pages through and a pure parse from a
raw response to records. See ``docs/adding-a-source.md``.
"""

from timgen_data.collectors.api.credentials import Secret, redact, resolve_secret
from timgen_data.collectors.api.cursors import Cursors
from timgen_data.collectors.api.raw_log import RESPONSE, RUN, RawLog, RawResponse, ReplayGap, ReplayLog, read_log
from timgen_data.collectors.api.runner import ApiRunner, raw_path

__all__ = [
    "RESPONSE",
    "RUN",
    "ApiRunner",
    "Cursors",
    "RawLog",
    "RawResponse",
    "ReplayGap",
    "ReplayLog",
    "Secret",
    "raw_path",
    "read_log",
    "redact",
    "resolve_secret",
]
