"""A loopback HTTP server for download tests: real sockets, scripted faults.

Usage::

    with LoopbackServer() as server:
        server.add_file("/ml-1m.zip", data)
        server.add_faults("/ml-1m.zip", [("status", 500), ("drop_after", 1000)])
        download(server.url + "/ml-1m.zip", dest)
        assert server.requests[-1].range == "bytes=1000-"

Faults are consumed one per request, in order; once a path's script is used up it
is served normally. A fault is one of:

* ``("status", code)`` or ``("status", code, {header: value})``: answer with that
  status (and headers) and a short body instead of the file.
* ``("drop_after", nbytes)``: send the normal headers (full Content-Length), then
  only ``nbytes`` of the body, then close the connection.

* ``("status", code, {header: value}, body)``: the same with that exact body (bytes),
  e.g. an API's JSON error document.
* ``("trickle", seconds)``: send the normal headers, then the body one byte at a time
  with a pause of ``seconds`` between bytes, until the client gives up or the server
  stops (the pause is a wait on the server's stop event, so shutdown is prompt).
* ``("hang",)``: accept the request and never answer, until the server stops.

``add_file`` also takes a ``content_type`` (default application/octet-stream) and
``chunked=True``, which sends the whole-file answer with ``Transfer-Encoding: chunked``
and no Content-Length, as servers streaming generated content do. Files are served
with the validators real servers send: a strong ``ETag`` (from the content, see
``etag()``) and a ``Last-Modified`` date that changes each time a path's file is
replaced; ``etag=False`` / ``last_modified=False`` leave either out. A Range request
with an ``If-Range`` naming anything but the current file gets the whole file (200), as
RFC 9110 says. A path given with a query (``/reviews/?page=2``) is served only for that
query; a request whose path and query match no such entry gets the file added under the
bare path.

``add_json`` scripts an API: a JSON body (and status) for requests to a path whose query
string holds given parameters, e.g. one answer per page token; the answer naming the
most parameters wins, and faults still come first.

Every response carries ``Connection: close``, so no handler thread outlives its
request waiting on an idle keep-alive socket, and shutdown is prompt.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Fault = tuple


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    method: str
    path: str
    range: str | None
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    query: str = ""  # the raw query string, without "?"

    @property
    def params(self) -> dict[str, str]:
        """The query parameters (the last value of a repeated one)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass(frozen=True)
class _JsonAnswer:
    query: dict[str, str]
    status: int
    body: bytes
    headers: dict[str, str]


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(first, last) inclusive for a satisfiable single range, None to serve the
    whole file (no header, or one we do not support, which RFC 9110 allows), or
    "unsatisfiable" for a 416."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # suffix range: the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def _serve(self, *, send_body: bool) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        range_header = self.headers.get("Range")
        request = Request(
            self.command, path, range_header, {k.lower(): v for k, v in self.headers.items()}, parts.query
        )
        fault = self.server.record_and_pop_fault(request)
        self.close_connection = True
        if fault is not None and fault[0] == "hang":
            self.server.stopping.wait()
            return
        if fault is not None and fault[0] == "status":
            headers = fault[2] if len(fault) > 2 else {}
            body = fault[3] if len(fault) > 3 else f"scripted {fault[1]}\n".encode()
            self._send(fault[1], body, headers, send_body)
            return
        answer = self.server.json_answer(request)
        if answer is not None:
            headers = {"Content-Type": "application/json; charset=UTF-8", **answer.headers}
            self._send(answer.status, answer.body, headers, send_body)
            return
        if parts.query and f"{path}?{parts.query}" in self.server.files:
            path = f"{path}?{parts.query}"  # a file added for exactly this query
        data = self.server.files.get(path)
        content_type = self.server.content_types.get(path, "application/octet-stream")
        if data is None:
            self._send(404, b"not found\n", {}, send_body)
            return
        validators = dict(self.server.validators.get(path, {}))
        if_range = self.headers.get("If-Range")
        if range_header is not None and if_range is not None and if_range.strip() not in validators.values():
            range_header = None  # the file changed since the client's copy: send all of it
        span = _byte_range(range_header, len(data))
        if span == "unsatisfiable":
            self._send(416, b"", {"Content-Range": f"bytes */{len(data)}", **validators}, send_body)
            return
        chunked = False
        if span is None:
            status, body, headers = 200, data, {}
            chunked = path in self.server.chunked
        else:
            first, last = span
            status, body = 206, data[first : last + 1]
            headers = {"Content-Range": f"bytes {first}-{last}/{len(data)}"}
        headers["Accept-Ranges"] = "bytes"
        headers["Content-Type"] = content_type
        headers.update(validators)
        limit = trickle = None
        if fault is not None and fault[0] == "drop_after":
            # Content-Length (or the chunked framing) still promises the whole body;
            # the client sees a connection closed mid-body.
            limit = fault[1]
        if fault is not None and fault[0] == "trickle":
            trickle = fault[1]
        self._send(status, body, headers, send_body, limit=limit, chunked=chunked, trickle=trickle)

    def _send(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str],
        send_body: bool,
        limit: int | None = None,
        chunked: bool = False,
        trickle: float | None = None,
    ) -> None:
        headers = {"Content-Type": "application/octet-stream", **headers}
        try:
            self.send_response(status)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if send_body:
                body = body if limit is None else body[:limit]
                if trickle is not None:
                    self._write_slowly(body, trickle)
                elif chunked:
                    self._write_chunked(body, complete=limit is None)
                else:
                    self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up first; nothing to report

    def _write_slowly(self, body: bytes, pause: float) -> None:
        for at in range(len(body)):
            self.wfile.write(body[at : at + 1])
            self.wfile.flush()
            if self.server.stopping.wait(pause):
                return

    def _write_chunked(self, body: bytes, *, complete: bool, size: int = 4096) -> None:
        for start in range(0, len(body), size):
            piece = body[start : start + size]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        if complete:  # a dropped connection never sends the terminating chunk
            self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.files: dict[str, bytes] = {}
        self.content_types: dict[str, str] = {}
        self.chunked: set[str] = set()
        self.validators: dict[str, dict[str, str]] = {}  # path -> ETag / Last-Modified headers
        self.versions = 0  # files added so far: each new one gets a later Last-Modified
        self.stopping = threading.Event()  # set on exit, ending hanging and trickling answers
        self.faults: dict[str, deque[Fault]] = {}
        self.json: dict[str, list[_JsonAnswer]] = {}
        self.requests: list[Request] = []

    def record_and_pop_fault(self, request: Request) -> Fault | None:
        with self.lock:
            self.requests.append(request)
            script = self.faults.get(request.path)
            return script.popleft() if script else None

    def json_answer(self, request: Request) -> _JsonAnswer | None:
        params = request.params
        with self.lock:
            answers = [a for a in self.json.get(request.path, ()) if a.query.items() <= params.items()]
        return max(answers, key=lambda a: len(a.query), default=None)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client closing early is expected in fault tests


class ServedInThread:
    """Runs an ``http.server`` on a daemon thread for the length of a ``with`` block; ``url`` is its base URL.

    Each fake server (files, JSON, a scripted API) subclasses it with its own ``ThreadingHTTPServer``.
    """

    def __init__(self, server: ThreadingHTTPServer, name: str) -> None:
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name,
                                        daemon=True)
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class LoopbackServer(ServedInThread):
    """Context manager running a throwaway HTTP server on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__(_Server(), "loopback-http")

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        super().__exit__(*exc)

    @staticmethod
    def _norm(path: str) -> str:
        return path if path.startswith("/") else "/" + path

    def add_file(
        self,
        path_in_url: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        chunked: bool = False,
        etag: bool = True,
        last_modified: bool = True,
    ) -> str:
        """Serve ``data`` at ``path_in_url``; returns the full URL.

        ``chunked``: answer whole-file requests without Content-Length, in chunks.
        ``etag`` / ``last_modified``: send that validator (both by default).
        """
        path = self._norm(path_in_url)
        with self._server.lock:
            self._server.files[path] = bytes(data)
            self._server.content_types[path] = content_type
            self._server.versions += 1
            validators = {}
            if etag:
                validators["ETag"] = self.etag(data)
            if last_modified:
                validators["Last-Modified"] = email.utils.formatdate(1_700_000_000 + self._server.versions, usegmt=True)
            self._server.validators[path] = validators
            if chunked:
                self._server.chunked.add(path)
            else:
                self._server.chunked.discard(path)
        return self.url + path

    def add_json(
        self,
        path_in_url: str,
        body: Any,
        *,
        query: dict[str, str] | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer requests to ``path_in_url`` whose query holds every item of ``query``
        with ``body`` as JSON and ``status``; the answer with the most items wins, and
        a later answer for the same ``query`` replaces an earlier one."""
        path = self._norm(path_in_url)
        wanted = {k: str(v) for k, v in (query or {}).items()}
        answer = _JsonAnswer(wanted, status, json.dumps(body).encode(), dict(headers or {}))
        with self._server.lock:
            kept = [a for a in self._server.json.get(path, []) if a.query != wanted]
            self._server.json[path] = [*kept, answer]

    @staticmethod
    def etag(data: bytes) -> str:
        """The ETag the server sends for a file with these bytes."""
        return '"' + hashlib.sha256(data).hexdigest()[:16] + '"'

    def add_faults(self, path_in_url: str, faults: list[Fault]) -> None:
        """Append faults for the next requests to ``path_in_url``."""
        for fault in faults:
            if fault[0] not in ("status", "drop_after", "trickle", "hang"):
                raise ValueError(f"unknown fault {fault!r}")
        with self._server.lock:
            self._server.faults.setdefault(self._norm(path_in_url), deque()).extend(faults)

    @property
    def requests(self) -> list[Request]:
        """Every request so far, oldest first (a copy)."""
        with self._server.lock:
            return list(self._server.requests)
