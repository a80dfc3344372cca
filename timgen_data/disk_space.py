"""Running out of disk: checked before big writes where the size is known, and recognised
wherever it happens anyway, so the user gets one line naming the folder and the room needed.

Every stage commits its work in steps (chunks with a cursor, files renamed into place), so
after a disk-full error whatever was committed stays and a re-run with room resumes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from timgen_common.disk_full import is_disk_full
from timgen_data.errors import DiskFullError

__all__ = ["disk_full_error", "ensure_room", "folder_of", "free_bytes", "human_bytes", "is_disk_full"]


def human_bytes(count: float) -> str:
    """``1536`` → ``'1.5 KB'``; decimal units, as disk tools print them.

    >>> human_bytes(2_500_000)
    '2.5 MB'
    """
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def free_bytes(folder: Path) -> int | None:
    """Free bytes on the disk holding ``folder`` (or its nearest existing parent); None if unknown."""
    path = Path(folder).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None



def disk_full_error(folder: Path, needed: int | None = None, *, what: str = "") -> DiskFullError:
    """The one-line error: which folder's disk is full, what is free, and how much to free."""
    folder = Path(folder)
    free = free_bytes(folder)
    have = f"{human_bytes(free)} free" if free is not None else "free space unknown"
    doing = f" while writing {what}" if what else ""
    if needed is not None and free is not None:
        need = f"free at least {human_bytes(max(needed - free, 1))} more (it needs about {human_bytes(needed)})"
    elif needed is not None:
        need = f"make room for about {human_bytes(needed)}"
    else:
        need = "free some room"
    return DiskFullError(
        f"the disk holding {folder} is full{doing} ({have}); {need} there, or point the command at "
        "another disk, and re-run: what was done so far is kept and resumed"
    )


def ensure_room(folder: Path, needed: int, *, what: str = "", margin: float = 1.0) -> None:
    """Raise DiskFullError now if ``folder``'s disk has less than ``needed`` × ``margin`` free."""
    free = free_bytes(folder)
    required = int(needed * margin)
    if free is not None and free < required:
        raise disk_full_error(folder, required, what=what)


def folder_of(error: OSError, fallback: Path) -> Path:
    """The folder an OSError was about (its file's parent), else ``fallback``."""
    name = getattr(error, "filename", None)
    if isinstance(name, (str, os.PathLike)):
        path = Path(name)
        return path if path.is_dir() else path.parent
    return Path(fallback)
