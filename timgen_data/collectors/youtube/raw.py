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
        self._lines = _count_lines(self.path)

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
    """Answers calls from a saved JSON-lines file instead of the network."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.specs: list[dict[str, Any]] = []
        self._answers: dict[str, tuple[int, dict[str, Any]]] = {}
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"cannot read --load {self.path}: {exc.strerror}") from None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise UsageError(f"{self.path}:{number} is not JSON; --load takes a file a live "
                                 "`collect youtube` run saved under <data dir>/raw/youtube/") from None
            if not isinstance(record, dict):
                raise UsageError(f"{self.path}:{number} is not a saved response object")
            if "run" in record:
                self.specs.append(record["run"])
            elif "method" in record and isinstance(record.get("params"), dict):
                self._answers[call_key(record["method"], record["params"])] = (number, record)
            else:
                raise UsageError(f"{self.path}:{number} has neither a run description nor a method and params")

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


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for _ in f)
