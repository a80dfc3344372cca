"""A tiny progress protocol so library code reports progress without printing.

Library functions take ``progress: Progress``; the CLI passes one that draws rich
progress bars, tests and library users get the silent default.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, task: str, total: float | None = None, unit: str = "") -> None:
        """Begin (or restart) a named task; ``total`` is None when unknown."""

    def advance(self, task: str, amount: float = 1) -> None:
        """Move a task forward by ``amount``."""

    def finish(self, task: str) -> None:
        """Mark a task complete."""


class SilentProgress:
    """The default: records nothing, shows nothing."""

    def start(self, task: str, total: float | None = None, unit: str = "") -> None:
        pass

    def advance(self, task: str, amount: float = 1) -> None:
        pass

    def finish(self, task: str) -> None:
        pass


SILENT = SilentProgress()
