"""Saved raw responses: appended by live runs, replayed by ``--load``.

A live run appends one JSON line per response it used, to
``<data dir>/raw/youtube/<run key>.jsonl``::

    {"run": {"mode": "search", ...}, "started_at": 1767225600}            (once per run)
    {"method": "search.list", "params": {...}, "status": 200, "response": {...}}
    {"method": "commentThreads.list", "params": {...}, "status": 403, "error": {...}}

``params`` are exactly what was passed to the client: the key is never among them (the
client adds it to the URL), and each line is scrubbed of it anyway before it is written.
Refusals that decide what is stored (403 commentsDisabled, 404) are saved too; quota
and key errors are not, since they say nothing about the data.

``ReplayApi`` answers the same calls from such a file, so the same parse and save code
gives the same store. When a call was answered more than once (a re-run of a finished
request), the latest answer is used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from timgen_data.collectors.json_lines import complete_lines, read_json_file
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.collectors.youtube.api import ApiRefusal, error_info
from timgen_data.collectors.youtube.credentials import redact
from timgen_data.collectors.youtube.parse import Origin
from timgen_data.errors import UsageError


def call_key(method: str, params: dict[str, Any]) -> str:
    return json.dumps([method, params], sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class ReplayGap(Exception):
    """The file holds no answer to a call the run needs (the live run stopped before it)."""


class RawLog:
    """Appends responses to a JSON-lines file; knows the line each one landed on."""

    def __init__(self, path: Path, api_key: str | None = None):
        self.path = Path(path)
        self._key = api_key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lines = complete_lines(self.path)

    def start_run(self, spec: dict[str, Any], started_at: int) -> None:
        self._append({"run": spec, "started_at": started_at})

    def response(self, method: str, params: dict[str, Any], body: dict[str, Any]) -> Origin:
        """Append a successful answer; returns where it landed, for rejections to cite."""
        return self._append({"method": method, "params": params, "status": 200, "response": body})

    def refusal(self, method: str, params: dict[str, Any], refusal: ApiRefusal) -> Origin:
        error = refusal.body if isinstance(refusal.body, dict) else {
            "error": {"code": refusal.status, "message": refusal.message, "errors": [{"reason": refusal.reason}]}}
        return self._append({"method": method, "params": params, "status": refusal.status, "error": error})

    def _append(self, record: dict[str, Any]) -> Origin:
        line = redact(json.dumps(record, ensure_ascii=False, sort_keys=True), self._key)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
        self._lines += 1
        return Origin(self.path.name, self._lines)


class ReplayApi:
    """Answers calls from a saved JSON-lines file instead of the network.

    A line that holds no saved answer (a fragment a killed run left, a corrupt or
    hand-edited line) is passed over and kept in ``rejections`` with its number.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.specs: list[dict[str, Any]] = []
        self.rejections = Rejections()
        self._answers: dict[str, tuple[int, dict[str, Any]]] = {}
        try:
            lines = list(read_json_file(self.path))
        except OSError as exc:
            raise UsageError(f"cannot read --load {self.path}: {exc.strerror}") from None
        for line in lines:
            record = line.value
            if record is None:
                self._reject(line.number, str(line.error))
            elif "run" in record:
                if isinstance(record["run"], dict):
                    self.specs.append(record["run"])
                else:
                    self._reject(line.number, "a run description that is not an object")
            elif _is_answer(record):
                self._answers[call_key(record["method"], record["params"])] = (line.number, record)
            else:
                self._reject(line.number, "neither a run description nor a method, params and a numeric status")
        if self.rejections.count and not self.specs and not self._answers:
            raise UsageError(f"--load {self.path} holds no saved responses ({self.rejections.kept[0]}); it takes a "
                             "file a live `collect youtube` run saved under <data dir>/raw/youtube/")

    def _reject(self, number: int, reason: str) -> None:
        self.rejections.add(Rejection(self.path.name, number, reason))

    def origin(self, method: str, params: dict[str, Any]) -> Origin:
        number, _ = self._answers.get(call_key(method, params), (0, None))
        return Origin(self.path.name, number)

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        found = self._answers.get(call_key(method, params))
        if found is None:
            raise ReplayGap(f"{self.path.name} holds no answer to {method} {json.dumps(params, sort_keys=True)}")
        _, record = found
        if int(record.get("status", 200)) != 200:
            reason, message, body = error_info(json.dumps(record.get("error")))
            raise ApiRefusal(method, int(record["status"]), reason, message, body)
        response = record.get("response")
        return response if isinstance(response, dict) else {}


def _is_answer(record: dict[str, Any]) -> bool:
    status = record.get("status", 200)
    return (isinstance(record.get("method"), str) and isinstance(record.get("params"), dict)
            and isinstance(status, int) and not isinstance(status, bool))
