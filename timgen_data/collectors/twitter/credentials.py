"""Where the X API bearer token comes from: a credentials file or the environment, nowhere else.

The token is returned to the client and to nothing else; messages here name the variable
or the file, never any of the file's content.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from timgen_data.errors import ConfigError

TOKEN_ENV = "X_BEARER_TOKEN"
_JSON_KEYS = ("bearer_token", TOKEN_ENV)


def bearer_token(credentials_file: Path | str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The bearer token from ``credentials_file`` if given, else from ``$X_BEARER_TOKEN``.

    A credentials file holds the token alone, a ``X_BEARER_TOKEN=...`` line (dotenv
    style), or JSON ``{"bearer_token": "..."}``.
    """
    if credentials_file is not None:
        token = _from_file(Path(credentials_file))
        if not token:
            raise ConfigError(
                f"no bearer token in {credentials_file}: write the token alone, a line {TOKEN_ENV}=<token>, "
                'or JSON {"bearer_token": "<token>"}'
            )
        return token
    token = (environ if environ is not None else os.environ).get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(
            f"the X API needs a bearer token: set {TOKEN_ENV} (from the X developer portal) "
            "or pass --credentials FILE"
        )
    return token


def _from_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the credentials file {path} ({type(exc).__name__}); "
                          f"check the path, or set {TOKEN_ENV} instead") from None
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise ConfigError(f"the credentials file {path} starts like JSON but is not valid JSON") from None
        found = next((data[k] for k in _JSON_KEYS if isinstance(data, dict) and isinstance(data.get(k), str)), "")
        return found.strip()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and name.strip().removeprefix("export ").strip() == TOKEN_ENV:
            return value.strip().strip("'\"")
    # A bare token: one line, no spaces or '=' assignments.
    if len(lines) == 1 and "=" not in lines[0].rstrip("=") and " " not in lines[0]:
        return lines[0]
    return ""
