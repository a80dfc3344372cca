"""One raw-response log for every API source: what live runs append and ``--load`` replays.

``<data dir>/raw/<source>/<run key>.jsonl`` holds, per live run, a ``run`` line (its
request spec, the API's public URL, when it started) and then one ``response`` line per
answer the run got, errors and rate-limit answers included::

    {"kind": "run", "spec": {...}, "url": "https://api.x.com", "started_at": 1767225600}
    {"kind": "response", "path": "/2/tweets/search/recent", "params": {...}, "status": 200,
     "rate": {...}, "body": {...}, "fetched_at": 1767225601}

``path`` is the URL path, or the method for sources reached through a client library
(``videos.list``). Request headers are never written, and a source's secret is scrubbed
from each line before it is, so no credential reaches the file. Each line is flushed and
fsync'd as written: a killed run keeps every answer it got, and the half line it may
leave is ended before the next run appends (see ``json_lines.complete_lines``).

Reading is tolerant: a line that holds no run or response (a fragment, a corrupt or
hand-edited line) comes back with the reason, for the replay to reject by number and
pass. Older files stay readable: YouTube's ``{"run": …}`` / ``{"method", "params",
"status", "response" | "error"}`` lines and hand-written response lines without ``kind``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from timgen_data.collectors.api.credentials import redact
from timgen_data.collectors.json_lines import complete_lines, read_json_file
from timgen_data.errors import UsageError

RUN, RESPONSE = "run", "response"
BAD_RESPONSE = "a response line without a path or with a non-numeric status"
NOT_AN_ENTRY = "neither a run line nor a response line"


class ReplayGap(UsageError):
    """The log holds no answer to a call the replayed run needs (the live run stopped before it)."""


@dataclass(frozen=True)
class RawResponse:
    """One answer from an API, as recorded."""

    path: str  # the URL path, or the client library's method ("videos.list")
    params: dict[str, Any]
    status: int
    rate: dict[str, int | None]  # rate-limit values the API announced; empty when it announces none
    body: Any  # the decoded JSON body (an error body for a refusal)
    fetched_at: int  # UTC epoch seconds
    line: int = field(default=0, compare=False)  # where it sits in its log (1-based)

    def as_json(self) -> dict[str, Any]:
        return {"kind": RESPONSE, "path": self.path, "params": self.params, "status": self.status,
                "rate": self.rate, "body": self.body, "fetched_at": self.fetched_at}

    @classmethod
    def from_json(cls, data: dict[str, Any], line: int) -> RawResponse:
        """The response a log line holds (either format); KeyError, TypeError or ValueError when none."""
        legacy = "method" in data and "path" not in data  # YouTube's format before the shared log
        path = data["method"] if legacy else data["path"]
        params, rate = data.get("params") or {}, data.get("rate") or {}
        status = data.get("status", 200)
        if not isinstance(params, dict) or not isinstance(rate, dict) or not isinstance(path, str):
            raise TypeError("path must be text, params and rate objects")
        if isinstance(status, bool) or (legacy and not isinstance(status, int)):
            raise TypeError("status must be a number")
        # Parameters keep their JSON types: a client library's call key is made of them.
        body = (data.get("response") if status == 200 else data.get("error")) if legacy else data.get("body")
        try:
            return cls(path, dict(params), int(status), dict(rate), body, int(data.get("fetched_at", 0)), line)
        except OverflowError:  # an infinite number
            raise ValueError("status or fetched_at is not a number") from None


@dataclass(frozen=True)
class LogEntry:
    """One non-blank line of a log: a run, a response, or why it is neither."""

    line: int
    run: dict[str, Any] | None = None  # the run line itself (spec, url, started_at)
    response: RawResponse | None = None
    problem: str | None = None


def read_log(path: Path) -> Iterator[LogEntry]:
    """Every non-blank line of a log, in order, streamed (a log can be large)."""
    for line in read_json_file(Path(path)):
        data = line.value
        if data is None:
            yield LogEntry(line.number, problem=line.error)
        elif data.get("kind") == RUN:
            yield LogEntry(line.number, run=data)
        elif "run" in data and "kind" not in data:  # YouTube's older run lines
            spec = data["run"]
            if isinstance(spec, dict):
                yield LogEntry(line.number, run={"kind": RUN, "spec": spec, "started_at": data.get("started_at")})
            else:
                yield LogEntry(line.number, problem="a run line whose spec is not an object")
        elif data.get("kind", RESPONSE) == RESPONSE and ("path" in data or "method" in data):
            try:
                yield LogEntry(line.number, response=RawResponse.from_json(data, line.number))
            except (KeyError, TypeError, ValueError):
                yield LogEntry(line.number, problem=BAD_RESPONSE)
        else:
            yield LogEntry(line.number, problem=NOT_AN_ENTRY)


class RawLog:
    """Appends run and response lines to a log, each flushed and fsync'd as written.

    The file is opened per line, so a log needs no closing and two logs of one run
    never hold a stale handle. ``secret`` (an API key a client library puts into URLs)
    is scrubbed from every line.
    """

    def __init__(self, path: Path, secret: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._secret = secret
        self._lines = complete_lines(self.path)

    def start_run(self, spec: dict[str, Any], url: str | None, started_at: int) -> int:
        return self.write({"kind": RUN, "spec": spec, "url": url, "started_at": started_at})

    def append(self, response: RawResponse) -> RawResponse:
        """Write ``response``; returns it with its line number."""
        return replace(response, line=self.write(response.as_json()))

    def write(self, entry: dict[str, Any]) -> int:
        """Append one JSON object as a line; returns its line number."""
        text = redact(json.dumps(entry, ensure_ascii=False, sort_keys=True), self._secret)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self._lines += 1
        return self._lines

    def __enter__(self) -> RawLog:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class ReplayLog:
    """Answers calls from a log instead of the network: the latest answer recorded for each
    (path, params), since a re-run of a finished request appends its answers again.

    Lines that hold no run or response are kept in ``problems`` as (line, reason).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise UsageError(f"--load {self.path} is not a file; give a raw file a live run saved under "
                             "<data dir>/raw/<source>/")
        self.runs: list[dict[str, Any]] = []
        self.problems: list[tuple[int, str]] = []
        self._answers: dict[str, RawResponse] = {}
        try:
            for entry in read_log(self.path):
                if entry.run is not None:
                    self.runs.append(entry.run)
                elif entry.response is not None:
                    self._answers[call_key(entry.response.path, entry.response.params)] = entry.response
                else:
                    self.problems.append((entry.line, str(entry.problem)))
        except OSError as exc:
            raise UsageError(f"cannot read --load {self.path}: {exc.strerror}") from None

    @property
    def empty(self) -> bool:
        return not self.runs and not self._answers

    def find(self, path: str, params: dict[str, Any]) -> RawResponse | None:
        return self._answers.get(call_key(path, params))

    def answer(self, path: str, params: dict[str, Any]) -> RawResponse:
        """The recorded answer to this call; ``ReplayGap`` when the log holds none."""
        found = self.find(path, params)
        if found is None:
            raise ReplayGap(f"{self.path.name} holds no answer to {path} {json.dumps(params, sort_keys=True)}")
        return found


def call_key(path: str, params: dict[str, Any]) -> str:
    return json.dumps([path, params], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
