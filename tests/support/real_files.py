"""The real artifacts beside the repository, and a clean skip where they are absent.

``../shared/real`` holds service responses and files no one here wrote (``$TIMGEN_SHARED_REAL``
moves it), ``../shared/data`` the MovieLens releases (``$TIMGEN_SHARED_DATA``). Tests read
them in place; nothing is ever copied into the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

BESIDE_REPOSITORY = Path(__file__).resolve().parents[3]
SHARED_REAL = Path(os.environ.get("TIMGEN_SHARED_REAL", BESIDE_REPOSITORY / "shared" / "real"))
SHARED_DATA = Path(os.environ.get("TIMGEN_SHARED_DATA", BESIDE_REPOSITORY / "shared" / "data"))


def _present(root: Path, how: str, parts: tuple[str, ...], what: str, needs: str | None) -> Path:
    path = root.joinpath(*parts)
    if not (path / needs if needs else path).exists():
        pytest.skip(f"{what} not found at {path} ({how})")
    return path


def real_path(*parts: str, what: str, needs: str | None = None) -> Path:
    """``SHARED_REAL/parts``, or skip the test saying ``what`` is missing and where.

    ``needs``: a file inside that folder that must be there too.

    >>> real_path("amazon", "2023", "All_Beauty.jsonl", what="real Amazon lines")  # doctest: +SKIP
    """
    return _present(SHARED_REAL, "set TIMGEN_SHARED_REAL; see ../shared/real/README.md", parts, what, needs)


def shared_data_path(*parts: str, what: str, needs: str | None = None) -> Path:
    """``SHARED_DATA/parts``, or skip the test saying ``what`` is missing and where."""
    return _present(SHARED_DATA, "set TIMGEN_SHARED_DATA", parts, what, needs)
