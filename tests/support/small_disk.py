"""A small, really full-able disk for disk-full tests: a tmpfs of a few megabytes.

Mounting needs root (or CAP_SYS_ADMIN), which CI has; where it is impossible the test
is skipped, saying why. SQLite's own "database or disk is full" is also reachable without
mounting through ``PRAGMA max_page_count`` (see the store tests).
"""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest


def _try(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@contextmanager
def small_disk(folder: Path, size_bytes: int) -> Iterator[Path]:
    """Mount a tmpfs of ``size_bytes`` at ``folder`` (created); unmounted afterwards."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command; the disk-full tests need a small tmpfs")
    if not _try(["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder)]):
        pytest.skip("cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN); disk-full tests skipped")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


def fill(folder: Path, leave_bytes: int) -> Path:
    """Fill the disk holding ``folder`` until only about ``leave_bytes`` stay free."""
    filler = Path(folder) / "filler.bin"
    free = shutil.disk_usage(folder).free - leave_bytes
    if free > 0:
        try:
            with filler.open("wb") as out:
                out.write(b"\0" * free)
        except OSError:
            pass  # tmpfs rounds to pages: full a little early is full enough
    return filler
