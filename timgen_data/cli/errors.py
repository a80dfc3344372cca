"""One table from library errors to exit codes and one-line messages.

Usage errors (the request was wrong) exit 2, like click's own; failures while doing
valid work exit 3. ``TIMGEN_DEBUG=1`` lets the original traceback through.
"""

from __future__ import annotations

import os

import click

from timgen_data.errors import TimgenError, UsageError
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


class ErrorMappingGroup(click.Group):
    """A click group whose commands' library errors become one-line messages."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LIBRARY_ERRORS as error:
            if debug_enabled():
                raise
            raise CommandFailed(error) from error
