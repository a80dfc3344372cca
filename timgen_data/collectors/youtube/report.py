"""The youtube run's report: a CollectReport that can also say it stopped early, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from timgen_data.collectors.report import CollectReport


@dataclass
class YouTubeReport(CollectReport):
    stopped: bool = False  # the run ended before the request was done (quota, or a --load file ends)
    message: str | None = None  # what happened and what to do (when and how to resume)
    quota: dict[str, Any] | None = None  # day, used, daily_quota, spent_this_run (live runs)
    raw_file: str | None = None  # where this run's raw responses were appended (live runs)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "stopped": self.stopped, "message": self.message, "quota": self.quota,
                "raw_file": self.raw_file}
