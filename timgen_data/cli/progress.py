"""Rich progress bars implementing the library's ``Progress`` protocol (on stderr)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn, DownloadColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn,
)
from rich.text import Text


class _CountColumn(ProgressColumn):
    """Bytes as kB/MB for downloads, plain counts for everything else (one live display)."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes, self._count = DownloadColumn(), MofNCompleteColumn()

    def render(self, task: Task) -> Text:
        return (self._bytes if task.fields.get("unit") == "B" else self._count).render(task)


class RichProgress:
    def __init__(self, console: Console | None = None):
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), _CountColumn(), TimeElapsedColumn(),
            console=console or Console(stderr=True), transient=False,
        )
        self._tasks: dict[str, int] = {}

    def __enter__(self) -> "RichProgress":
        return self

    def __exit__(self, *exc) -> None:
        if self._tasks:
            self._progress.stop()

    def start(self, task: str, total: float | None = None, unit: str = "") -> None:
        if not self._tasks:  # the display starts with the first task, so an early error prints alone
            self._progress.start()
        if task in self._tasks:
            self._progress.reset(self._tasks[task], total=total)
            return
        self._tasks[task] = self._progress.add_task(task, total=total, unit=unit)

    def advance(self, task: str, amount: float = 1) -> None:
        if task in self._tasks:
            self._progress.advance(self._tasks[task], amount)

    def finish(self, task: str) -> None:
        if task in self._tasks:
            task_id = self._tasks[task]
            total = next(t.total for t in self._progress.tasks if t.id == task_id)
            self._progress.update(task_id, total=total or 1, completed=total or 1)
