"""A scripted X API v2 on 127.0.0.1 for collector tests: JSON answers per path, query and call order.

Usage::

    with FakeXApi() as api:
        api.reply("/2/tweets/search/recent", page1, params={"next_token": None})
        api.reply("/2/tweets/search/recent", page2, params={"next_token": "tok-2"})
        api.reply("/2/tweets/search/recent", {"title": "Too Many Requests"}, status=429,
                  headers={"x-rate-limit-reset": "1790000000"}, before=True)
        ...
        assert api.requests[0].params["max_results"] == "100"

An answer matches a request when the path is equal and every ``params`` entry is equal to
the request's query parameter (``None``: the parameter must be absent). The first matching
answer with uses left is sent; ``times`` uses (default 1, ``None`` for unlimited).
``before=True`` puts an answer ahead of those already scripted, to inject a fault. A
request nothing matches gets a 404 with an X-style error body.

Below the server: helpers the X collector tests share (fixtures, a scripted three-page
search, a clock that records sleeps, and a snapshot of the store by external ids).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from support.http_server import ServedInThread


@dataclass(frozen=True)
class SeenRequest:
    path: str
    params: dict[str, str]
    headers: dict[str, str]  # names lower-cased


@dataclass
class _Answer:
    path: str
    body: Any
    params: dict[str, str | None]
    status: int
    headers: dict[str, str]
    times: int | None
    served: int = field(default=0)

    def matches(self, path: str, params: dict[str, str]) -> bool:
        if path != self.path or (self.times is not None and self.served >= self.times):
            return False
        return all(params.get(k) == v if v is not None else k not in params for k, v in self.params.items())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        answer = self.server.answer(SeenRequest(parts.path, params, {k.lower(): v for k, v in self.headers.items()}))
        if answer is None:
            status, body, headers = 404, {"title": "Not Found Error", "detail": f"no script for {parts.path}"}, {}
        else:
            status, body, headers = answer.status, answer.body, answer.headers
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.close_connection = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.answers: list[_Answer] = []
        self.seen: list[SeenRequest] = []

    def answer(self, request: SeenRequest) -> _Answer | None:
        with self.lock:
            self.seen.append(request)
            for answer in self.answers:
                if answer.matches(request.path, request.params):
                    answer.served += 1
                    return answer
        return None


class FakeXApi(ServedInThread):
    """Context manager running the scripted API; ``url`` is its base URL."""

    def __init__(self) -> None:
        super().__init__(_Server(), "fake-x-api")

    def reply(self, path: str, body: Any, *, params: dict[str, str | None] | None = None, status: int = 200,
              headers: dict[str, str] | None = None, times: int | None = 1, before: bool = False) -> None:
        answer = _Answer(path, body, dict(params or {}), status, dict(headers or {}), times)
        with self._server.lock:
            if before:
                self._server.answers.insert(0, answer)
            else:
                self._server.answers.append(answer)

    @property
    def requests(self) -> list[SeenRequest]:
        with self._server.lock:
            return list(self._server.seen)

    def calls(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]


# -- helpers shared by the X collector tests -----------------------------------------------------
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twitter"
SEARCH = "/2/tweets/search/recent"
QUERY = "#movie has:media"
NOW = 1_795_200_000  # 2026-11-20T18:40:00Z, after every fixture post


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def script_search(api: FakeXApi, *, likes: bool = True) -> None:
    """Three pages of search results (tokens tok-2, tok-3) and, with ``likes``, likers of every post."""
    api.reply(SEARCH, fixture("search_page1"), params={"next_token": None, "since_id": None}, times=None)
    api.reply(SEARCH, fixture("search_page2"), params={"next_token": "tok-2"}, times=None)
    api.reply(SEARCH, fixture("search_page3"), params={"next_token": "tok-3"}, times=None)
    if likes:
        api.reply("/2/tweets/1900000000000000301/liking_users", fixture("liking_users_301"), times=None)
        for post in ("1900000000000000300", "1900000000000000290", "1900000000000000280", "1900000000000000310"):
            api.reply(f"/2/tweets/{post}/liking_users", {"meta": {"result_count": 0}}, times=None)


class FakeClock:
    """A clock that only moves when slept on; records every sleep."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def snapshot(store) -> dict[str, list[tuple]]:
    """The store's X rows by external ids (surrogate ids and timestamps of bookkeeping left out)."""
    queries = {
        "users": "SELECT external_id, attributes FROM users WHERE source = 'twitter' ORDER BY external_id",
        "items": "SELECT external_id, title, text, year, category, categories, attributes FROM items "
                 "WHERE source = 'twitter' ORDER BY external_id",
        "interactions": "SELECT u.external_id, it.external_id, i.ts, i.action, i.value, i.duration "
                        "FROM interactions i JOIN users u ON u.id = i.user_id JOIN items it ON it.id = i.item_id "
                        "ORDER BY 1, 2, 3, 4",
        "assets": "SELECT it.external_id, a.modality, a.uri, a.status FROM assets a "
                  "JOIN items it ON it.id = a.item_id ORDER BY 1, 2, 3",
        "cursors": "SELECT key, cursor FROM collection_state WHERE collector = 'twitter' ORDER BY key",
    }
    from timgen_data.store import fetch_rows

    with store.begin() as conn:
        return {name: [tuple(row) for row in fetch_rows(conn, sql)] for name, sql in queries.items()}
