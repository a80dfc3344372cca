"""One exception hierarchy for the whole toolkit.

Every message says what is wrong and how to fix it, so the CLI can show it as one
line. ``UsageError`` subclasses mean the user asked for something invalid (exit 2);
the rest are failures while doing valid work (exit 3).
"""

from __future__ import annotations

# The roots stand in timgen_common, where the model can raise and catch them too.
from timgen_common.errors import EncoderError, OutputFolderError, TimgenError, UsageError


class ConfigError(UsageError):
    """A configuration file or value does not validate."""


class StoreError(TimgenError):
    """The relational store cannot be opened or used."""


class SchemaVersionError(StoreError):
    """The store was written by a different schema version."""


class DownloadError(TimgenError):
    """A download failed after all retries."""


class ChecksumMismatchError(DownloadError):
    """Downloaded bytes do not match the published checksum."""


class DownloadLimitError(DownloadError):
    """A download ran past its deadline, fell below its minimum rate, or grew past its size limit."""


class ArchiveError(TimgenError):
    """An archive is truncated, corrupt, or tries to write outside its folder."""


class DiskFullError(TimgenError):
    """The disk holding a folder the toolkit writes (data dir, store, output) has no room left.

    The message names the folder and how much room is needed; whatever was committed
    before stays, so re-running once there is room resumes.
    """


class FileAccessError(TimgenError):
    """The operating system refused a file operation the command needed (permissions, a missing disk)."""


class MalformedInputError(TimgenError):
    """A source file has a line that cannot be parsed (raised only in strict mode)."""


class NothingToDoError(UsageError):
    """A stage was asked to work on data an earlier stage has not produced yet."""


class PublishError(TimgenError):
    """Publishing a dataset to the Hub failed."""


class TimeValueError(MalformedInputError):
    """A time value cannot be parsed, or lies outside the accepted range."""


class AssetError(TimgenError):
    """One media asset cannot be fetched, stored or decoded (recorded on the asset, never fatal)."""


class DecodeError(AssetError):
    """An asset's bytes are not a readable image, video or audio stream."""


class RateLimitError(TimgenError):
    """An API's rate limit or quota is used up for longer than the run may wait.

    Raised after everything collected so far is committed with its cursor, so re-running
    at ``resume_at`` (UTC epoch seconds, when known) continues where the run stopped.
    ``report`` carries the partial run's report when the collector has one.
    """

    def __init__(self, message: str, *, resume_at: int | None = None) -> None:
        super().__init__(message)
        self.resume_at = resume_at
        self.report: object | None = None
