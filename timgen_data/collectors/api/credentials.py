"""Where an API secret comes from (a credentials file or the environment, nowhere else), and
keeping it out of every message.

One reader for every source's credentials file, accepting each shape any source ever
accepted, so no file a user already has stops working: the secret alone on the first line,
a dotenv-style ``NAME=value`` line (``export`` and quotes allowed, ``#`` comments skipped),
or a JSON object holding it under one of the source's keys. Messages name the variable or
the file, never anything the file holds.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from timgen_data.errors import ConfigError

REDACTED = "REDACTED"


@dataclass(frozen=True)
class Secret:
    """How one source's secret is named: its environment variable, its JSON keys, and what
    a user is told to do when it is missing (``how``, e.g. where to create one)."""

    env: str  # e.g. X_BEARER_TOKEN; also accepted as a NAME=value line or a JSON key
    json_keys: tuple[str, ...]  # e.g. ("bearer_token",)
    what: str  # e.g. "the X API bearer token"
    how: str = ""  # appended to the messages: where the secret is created


def resolve_secret(secret: Secret, credentials_file: Path | str | None = None,
                   environ: Mapping[str, str] | None = None) -> str:
    """The secret from ``credentials_file`` if given, else from the environment variable.

    >>> resolve_secret(Secret("DEMO_KEY", ("api_key",), "the demo key"), environ={"DEMO_KEY": " k1 "})
    'k1'
    """
    tail = f"; {secret.how}" if secret.how else ""
    if credentials_file is not None:
        path = Path(credentials_file)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the credentials file {path} ({type(exc).__name__}); check the path, "
                              f"or set {secret.env} instead{tail}") from None
        value = secret_from_text(text, secret)
        if not value:
            keys = ", ".join(f'{{"{k}": "…"}}' for k in secret.json_keys)
            raise ConfigError(f"no {secret.what} in the credentials file {path}: write it alone, a line "
                              f"{secret.env}=…, or JSON {keys}{tail}")
        return value
    value = (environ if environ is not None else os.environ).get(secret.env, "").strip()
    if not value:
        raise ConfigError(f"{secret.what} is missing: set {secret.env} or pass --credentials FILE{tail}")
    return value


def secret_from_text(text: str, secret: Secret) -> str:
    """What a credentials file's ``text`` holds for ``secret``; "" when it holds none."""
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            return ""  # never echo the file: it may hold the secret in some other shape
        keys = (*secret.json_keys, secret.env)
        found = next((data[k] for k in keys if isinstance(data, dict) and isinstance(data.get(k), str)), "")
        return found.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and name.strip().removeprefix("export ").strip() == secret.env:
            return value.strip().strip("'\"")
    # The secret alone: the first line, when it is no NAME=value assignment and has no spaces.
    first = lines[0] if lines else ""
    if first and "=" not in first.rstrip("=") and " " not in first:
        return first
    return ""


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every given secret replaced by ``REDACTED``.

    >>> redact("Bearer s3cr3t failed", "s3cr3t")
    'Bearer REDACTED failed'
    """
    for value in secrets:
        if value:
            text = text.replace(value, REDACTED)
    return text
