"""Saved raw responses: appended by live runs, replayed by ``--load``, in the shared raw log.

A live run appends a run line and then one response line per answer it used, to
``<data dir>/raw/youtube/<run key>.jsonl`` (the format is ``collectors.api.raw_log``'s;
``path`` holds the method, e.g. ``search.list``). ``params`` are exactly what was passed
to the client: the key is never among them (the client adds it to the URL), and each
line is scrubbed of it anyway before it is written. Refusals that decide what is stored
(403 commentsDisabled, 404) are saved too, with the API's error as the body; quota and
key errors are not, since they say nothing about the data. Files written before the
shared log (``{"run": …}`` and ``{"method", "params", "status", "response" | "error"}``
lines) replay the same.

``ReplayApi`` answers the same calls from such a file, so the same parse and save code
gives the same store. When a call was answered more than once (a re-run of a finished
request), the latest answer is used.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from timgen_data.collectors.api import RawResponse, ReplayGap, ReplayLog
from timgen_data.collectors.api import RawLog as SharedLog
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.collectors.youtube.api import ApiRefusal, error_info
from timgen_data.collectors.youtube.parse import Origin
from timgen_data.errors import UsageError

__all__ = ["RawLog", "ReplayApi", "ReplayGap"]


class RawLog:
    """Appends YouTube's answers to the shared log; knows the line each one landed on."""

    def __init__(self, path: Path, api_key: str | None = None):
        self._log = SharedLog(path, api_key)
        self.path = self._log.path

    def start_run(self, spec: dict[str, Any], started_at: int) -> None:
        self._log.start_run(spec, None, started_at)

    def response(self, method: str, params: dict[str, Any], body: dict[str, Any]) -> Origin:
        """Append a successful answer; returns where it landed, for rejections to cite."""
        return self._append(method, params, 200, body)

    def refusal(self, method: str, params: dict[str, Any], refusal: ApiRefusal) -> Origin:
        error = refusal.body if isinstance(refusal.body, dict) else {
            "error": {"code": refusal.status, "message": refusal.message, "errors": [{"reason": refusal.reason}]}}
        return self._append(method, params, refusal.status, error)

    def _append(self, method: str, params: dict[str, Any], status: int, body: Any) -> Origin:
        line = self._log.write(RawResponse(method, params, status, {}, body, int(time.time())).as_json())
        return Origin(self.path.name, line)


class ReplayApi:
    """Answers calls from a saved file instead of the network.

    A line that holds no saved answer (a fragment a killed run left, a corrupt or
    hand-edited line) is passed over and kept in ``rejections`` with its number.
    """

    def __init__(self, path: Path):
        self._replay = ReplayLog(Path(path))
        self.path = self._replay.path
        self.specs: list[dict[str, Any]] = [run["spec"] for run in self._replay.runs if isinstance(run.get("spec"), dict)]
        self.rejections = Rejections()
        for number, reason in self._replay.problems:
            self.rejections.add(Rejection(self.path.name, number, reason))
        if self.rejections.count and self._replay.empty:
            raise UsageError(f"--load {self.path} holds no saved responses ({self.rejections.kept[0]}); it takes a "
                             "file a live `collect youtube` run saved under <data dir>/raw/youtube/")

    def origin(self, method: str, params: dict[str, Any]) -> Origin:
        found = self._replay.find(method, params)
        return Origin(self.path.name, found.line if found is not None else 0)

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        answer = self._replay.answer(method, params)  # ReplayGap when the file holds none
        if answer.status != 200:
            reason, message, body = error_info(json.dumps(answer.body))
            raise ApiRefusal(method, answer.status, reason, message, body)
        return answer.body if isinstance(answer.body, dict) else {}
