"""Giving the heap's free memory back to the operating system between training steps.

PyTorch's CPU tensors come from malloc. Batches differ in length (windows are cut to their
longest member), so each step's activations have other sizes than the last; glibc raises its
mmap threshold as large blocks are freed, puts later ones on the heap, and the heap's free
holes are never returned: peak memory then grows with the number of steps, not with what a
step needs. ``malloc_trim`` returns the free pages after each step (a few milliseconds) and
changes no result. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util


def _malloc_trim():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_free_heap() -> None:
    """Return the heap's free pages to the operating system (glibc only)."""
    if _TRIM is not None:
        _TRIM(0)
