"""One table from library errors to exit codes and one-line messages.

Usage errors (the request was wrong) exit 2, like click's own; failures while doing
valid work exit 3. A full disk is recognised wherever it surfaces (an OSError, SQLite's
"database or disk is full") and said in one line naming the folder; any other OSError is
one line too. ``TIMGEN_DEBUG=1`` lets the original traceback through.
"""

from __future__ import annotations

import os

from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from timgen_data.cli.lazy_group import LazyGroup
from timgen_data.disk_space import disk_full_error, folder_of, is_disk_full
from timgen_data.errors import FileAccessError, TimgenError, UsageError
from timgen_model.errors import ModelError, ModelUsageError

LIBRARY_ERRORS = (TimgenError, ModelError)
USAGE_ERRORS = (UsageError, ModelUsageError)

EXIT_USAGE = 2
EXIT_FAILURE = 3
DEBUG_ENV = "TIMGEN_DEBUG"


class CommandFailed(click.ClickException):
    """A library error turned into click's one-line error output."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.exit_code = EXIT_USAGE if isinstance(error, USAGE_ERRORS) else EXIT_FAILURE
        self.kind = type(error).__name__

    def format_message(self) -> str:
        return f"{self.message} [{self.kind}]"


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


def as_library_error(error: BaseException, data_dir: Path) -> Exception | None:
    """An error from below the library (the OS, the database driver) as a one-line library error.

    ``data_dir`` is named when the error itself does not say which file it was about.
    """
    if is_disk_full(error):
        return disk_full_error(folder_of(error, data_dir) if isinstance(error, OSError) else data_dir)
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        return FileAccessError(f"cannot use{where}: {error.strerror or error}; check that the path exists and "
                               "is writable by you, then re-run")
    return None


class ErrorMappingGroup(LazyGroup):
    """A click group whose commands' library errors become one-line messages."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LIBRARY_ERRORS as error:
            if debug_enabled():
                raise
            raise CommandFailed(error) from error
        except (OSError, OperationalError) as error:
            # where the data dir points, unchecked: checking it here could raise a second error
            data_dir = ctx.obj.resolved_data_dir if hasattr(ctx.obj, "resolved_data_dir") else Path.cwd()
            mapped = as_library_error(error, data_dir)
            if mapped is None or debug_enabled():
                raise
            raise CommandFailed(mapped) from error
