"""The contract's format version: written into every dataset by build, checked by readers.

Raise :data:`FORMAT_VERSION` when a change would make a reader of the previous version
misread a dataset (a column renamed, retyped or given a new meaning); raise
:data:`OLDEST_READABLE_VERSION` when readers stop understanding older datasets. A
column added that readers may go without (one of ``OPTIONAL_COLUMNS``) keeps the version.
"""

from __future__ import annotations

from typing import Any

FORMAT_VERSION = 1
OLDEST_READABLE_VERSION = 1


def recorded_version(build_info: dict[str, Any]) -> Any:
    """The format version recorded in a dataset's ``build.json`` (None where there is none)."""
    parameters = build_info.get("parameters") if isinstance(build_info, dict) else None
    return parameters.get("format_version") if isinstance(parameters, dict) else None


def version_problem(version: Any) -> str | None:
    """Why a dataset of format ``version`` cannot be read, said with what to do; None when it can.

    A dataset that records no version (one made by hand, following the columns) is read:
    its columns are checked instead.

    >>> version_problem(1) is None
    True
    """
    if version is None:
        return None
    if not isinstance(version, int) or isinstance(version, bool):
        return (f"its dataset format version {version!r} is not a version number; "
                "rebuild it with `timgen-data build`")
    if version > FORMAT_VERSION:
        return (f"it has dataset format version {version}, newer than this installation reads ({_readable()}); "
                "upgrade timgen-data (pip install -U timgen-data) or rebuild the dataset with the installed "
                "`timgen-data build`")
    if version < OLDEST_READABLE_VERSION:
        return (f"it has dataset format version {version}, older than this installation reads ({_readable()}); "
                "rebuild it with `timgen-data build`")
    return None


def _readable() -> str:
    if OLDEST_READABLE_VERSION == FORMAT_VERSION:
        return f"version {FORMAT_VERSION}"
    return f"versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION}"
