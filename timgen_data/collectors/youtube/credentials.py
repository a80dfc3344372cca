"""The API key: where it comes from, and keeping it out of every message and log.

googleapiclient sends the key as the ``key=`` query parameter, so it sits in every
request URL: in the library's debug log lines and in its ``HttpError`` messages. The
filter below scrubs it from those log records; errors are rebuilt from the status and
the API's own error reason, never from the exception text.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

from timgen_data.errors import ConfigError

API_KEY_ENV = "YOUTUBE_API_KEY"
REDACTED = "REDACTED"
_KEY_PARAM = re.compile(r"([?&]key=)[^&#\s'\"]+")
_LOGGERS = ("googleapiclient.discovery", "googleapiclient.http", "googleapiclient.model")


def resolve_api_key(credentials: Path | None = None, environ: dict[str, str] | None = None) -> str:
    """The key from ``credentials`` (the key alone, or JSON ``{"api_key": …}``) or, without
    one, from ``$YOUTUBE_API_KEY``; a ConfigError naming both when there is none."""
    how = (f"set {API_KEY_ENV} or pass --credentials FILE (a file holding the key, or JSON "
           '{"api_key": "…"}); create a key in the Google Cloud console with the YouTube Data API v3 enabled')
    if credentials is not None:
        path = Path(credentials)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the credentials file {path}: {exc.strerror}; {how}") from None
        key = _key_from_text(text)
        if not key:
            raise ConfigError(f"the credentials file {path} holds no API key; {how}")
        return key
    key = (os.environ if environ is None else environ).get(API_KEY_ENV, "").strip()
    if not key:
        raise ConfigError(f"no YouTube API key: {how}")
    return key


def _key_from_text(text: str) -> str:
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return ""  # never echo the file: it may hold the key in some other shape
        value = data.get("api_key") if isinstance(data, dict) else None
        return value.strip() if isinstance(value, str) else ""
    return text.splitlines()[0].strip() if text else ""


def redact(text: str, key: str | None = None) -> str:
    """``text`` without any ``key=`` query value, nor ``key`` itself anywhere."""
    text = _KEY_PARAM.sub(rf"\g<1>{REDACTED}", text)
    return text.replace(key, REDACTED) if key else text


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
