"""The API key: where it comes from, and keeping it out of every message and log.

googleapiclient sends the key as the ``key=`` query parameter, so it sits in every
request URL: in the library's debug log lines and in its ``HttpError`` messages. The
filter below scrubs it from those log records; errors are rebuilt from the status and
the API's own error reason, never from the exception text.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from timgen_data.collectors.api import Secret, resolve_secret
from timgen_data.collectors.api import redact as redact_secret
from timgen_data.collectors.api.credentials import REDACTED

API_KEY_ENV = "YOUTUBE_API_KEY"
API_KEY = Secret(API_KEY_ENV, ("api_key",), "the YouTube API key",
                 "create a key in the Google Cloud console with the YouTube Data API v3 enabled")
_KEY_PARAM = re.compile(r"([?&]key=)[^&#\s'\"]+")
_LOGGERS = ("googleapiclient.discovery", "googleapiclient.http", "googleapiclient.model")


def resolve_api_key(credentials: Path | None = None, environ: dict[str, str] | None = None) -> str:
    """The key from ``credentials`` (the key alone, ``YOUTUBE_API_KEY=…``, or JSON
    ``{"api_key": …}``) or, without one, from ``$YOUTUBE_API_KEY``; a ConfigError naming
    both when there is none."""
    return resolve_secret(API_KEY, credentials, environ)


def redact(text: str, key: str | None = None) -> str:
    """``text`` without any ``key=`` query value, nor ``key`` itself anywhere."""
    return redact_secret(_KEY_PARAM.sub(rf"\g<1>{REDACTED}", text), key)


class RedactKeyFilter(logging.Filter):
    """Rewrites a log record's message with every ``key=`` query value scrubbed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = redact(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, ()
        return True


def install_log_filter() -> None:
    """Attach the filter to googleapiclient's loggers (once; repeated calls are no-ops)."""
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactKeyFilter) for f in logger.filters):
            logger.addFilter(RedactKeyFilter())
