"""Recognising a full disk wherever it surfaces: an OSError, or SQLite's "database or disk is full".

The model checks this to fall back to another cache folder; the data toolkit turns it into
one line naming the folder and the room needed (``timgen_data.disk_space``).
"""

from __future__ import annotations

import errno

# ENOSPC: no space on the device; EDQUOT: the user's quota is used up; EFBIG: a file-size
# limit (ulimit -f) — all three mean "make room, then re-run".
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_SQLITE_FULL = "database or disk is full"


def is_disk_full(error: BaseException) -> bool:
    """True for an OSError meaning "no room" and for SQLite's "database or disk is full"."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:  # the cause chain: SQLAlchemy wraps sqlite3
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if _SQLITE_FULL in str(current).lower():
            return True
        current = current.__cause__ or current.__context__ or getattr(current, "orig", None)
    return False
