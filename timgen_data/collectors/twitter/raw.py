"""Raw X API responses as JSON lines: what live runs append and what ``--load`` replays.

Each live run appends a ``run`` line (its spec and the API's public URL), then one
``response`` line per HTTP response it got, errors and rate-limit answers included:
path, query parameters, status, the ``x-rate-limit-*`` values, the JSON body and when it
was fetched. Request headers are never written, so the bearer token cannot reach the file.
Replaying the lines in order through the same processing as a live run gives the same store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from timgen_data.collectors.json_lines import complete_lines, read_json_file

RUN, RESPONSE = "run", "response"


@dataclass(frozen=True)
class RawResponse:
    """One HTTP response from the X API, as recorded."""

    path: str
    params: dict[str, str]
    status: int
    rate: dict[str, int | None]  # limit / remaining / reset (epoch seconds) from x-rate-limit-*
    body: Any
    fetched_at: int  # UTC epoch seconds; the time of a like the API does not date
    line: int = field(default=0, compare=False)  # where it sits in its raw file (1-based)

    def as_json(self) -> dict[str, Any]:
        return {"kind": RESPONSE, "path": self.path, "params": self.params, "status": self.status,
                "rate": self.rate, "body": self.body, "fetched_at": self.fetched_at}

    @classmethod
    def from_json(cls, data: dict[str, Any], line: int) -> RawResponse:
        """The response a raw line holds; KeyError, TypeError or ValueError when it holds none."""
        params, rate = data.get("params") or {}, data.get("rate") or {}
        if not isinstance(params, dict) or not isinstance(rate, dict):
            raise TypeError("params and rate must be objects")
        try:
            return cls(str(data["path"]), {str(k): str(v) for k, v in params.items()},
                       int(data.get("status", 200)), dict(rate), data.get("body"),
                       int(data.get("fetched_at", 0)), line)
        except OverflowError:  # an infinite number
            raise ValueError("status or fetched_at is not a number") from None


class RawLog:
    """Appends lines to a raw file, each written and flushed at once so a killed run keeps them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lines = complete_lines(self.path)
        self._handle = self.path.open("a", encoding="utf-8")

    def start_run(self, spec: dict[str, Any], url: str, started_at: int) -> int:
        return self._write({"kind": RUN, "spec": spec, "url": url, "started_at": started_at})

    def append(self, response: RawResponse) -> RawResponse:
        """Write ``response``; returns it with its line number."""
        return replace(response, line=self._write(response.as_json()))

    def _write(self, entry: dict[str, Any]) -> int:
        self._handle.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        self._handle.flush()
        self._lines += 1
        return self._lines

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> RawLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_raw(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, decoded line) for every non-blank line; None for a line that is not a JSON object
    (a fragment a killed run left, a corrupt or hand-edited line), which the replay rejects and passes."""
    for line in read_json_file(path):
        yield line.number, line.value
