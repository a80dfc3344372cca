"""A Progress that records its calls, for asserting what long work reported."""

from __future__ import annotations


class RecordingProgress:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, task, total=None, unit=""):
        self.events.append(("start", task, total, unit))

    def advance(self, task, amount=1):
        self.events.append(("advance", task, amount))

    def finish(self, task):
        self.events.append(("finish", task))
