"""Rich progress bars implementing the library's ``Progress`` protocol (on stderr)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class RichProgress:
    def __init__(self, console: Console | None = None):
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console or Console(stderr=True), transient=False,
        )
        self._bytes = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
            console=self._progress.console, transient=False,
        )
        self._tasks: dict[str, tuple[Progress, int]] = {}

    def __enter__(self) -> "RichProgress":
        self._progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._progress.stop()
        self._bytes.stop()

    def start(self, task: str, total: float | None = None, unit: str = "") -> None:
        bar = self._bytes if unit == "B" else self._progress
        if bar is self._bytes:
            bar.start()
        if task in self._tasks:
            owner, task_id = self._tasks[task]
            owner.reset(task_id, total=total)
            return
        self._tasks[task] = (bar, bar.add_task(task, total=total))

    def advance(self, task: str, amount: float = 1) -> None:
        if task in self._tasks:
            owner, task_id = self._tasks[task]
            owner.advance(task_id, amount)

    def finish(self, task: str) -> None:
        if task in self._tasks:
            owner, task_id = self._tasks[task]
            total = owner.tasks[[t.id for t in owner.tasks].index(task_id)].total
            owner.update(task_id, completed=total if total is not None else 1, total=total or 1)
