"""The roots of the toolkit's one exception hierarchy, and the errors raised on this floor.

``timgen_data.errors`` builds the rest of the hierarchy on these, so the CLI's one table
maps them as before: ``UsageError`` subclasses exit 2, the rest exit 3.
"""

from __future__ import annotations


class TimgenError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class UsageError(TimgenError):
    """The request itself is invalid: bad option, bad config file, unknown name."""


class OutputFolderError(UsageError):
    """An output folder is one the command did not write (or holds the store); it is left untouched."""


class EncoderError(UsageError):
    """An encoder spec is unknown, or its model cannot be loaded for the modality asked."""
