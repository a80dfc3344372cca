"""Reading a TOML settings file into a strict pydantic model, with errors a user can act on.

The weights file of ``label`` and the column mapping of ``collect events`` both go
through here, so a missing file, broken TOML and a wrong key read the same everywhere.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from timgen_data.errors import ConfigError

_M = TypeVar("_M", bound=BaseModel)


def read_toml(path: Path, what: str, option: str) -> dict[str, Any]:
    """The parsed file; ``what`` names it ("weights file") and ``option`` is the flag that gave it."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found; pass an existing TOML file to {option}") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder; pass a TOML file to {option}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset "
                          f"{exc.start}); save it as UTF-8, as TOML requires, and pass it to {option}") from None
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read ({exc.strerror or exc}); pass a TOML file you can read "
                          f"to {option}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None


def validate_toml(model: type[_M], data: dict[str, Any], path: Path, what: str,
                  explain: Callable[[str], str]) -> _M:
    """``data`` as ``model``; on failure a ConfigError listing every problem by its key, then ``explain(problems)``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_problem(err) for err in exc.errors())
        raise ConfigError(f"{what} {path} is invalid: {explain(problems)}") from None


def _problem(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    elif error["type"] == "missing":
        message = "required"
    return f"{where}: {message}" if where else message
