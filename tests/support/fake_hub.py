"""A fake Hugging Face Hub on 127.0.0.1, just big enough for publish tests.

Usage::

    with FakeHub(tmp_path, token="hf_fake_token") as hub:
        HfApi(endpoint=hub.endpoint, token="hf_fake_token").create_repo(...)
        hub.repo_files("me/ds")        # {path: bytes} at the head of main
        hub.repo_dir("me/ds")          # the same files checked out on disk
        hub.requests                   # what the clients asked, oldest first

It speaks the HTTP API that the installed ``huggingface_hub`` (2.x) and
``datasets`` use to create a repo, commit a folder and read it back:

* ``POST /api/repos/create``, ``POST /api/validate-yaml``, ``GET /api/whoami-v2``
* ``GET  /api/{type}s/{ns}/{name}[/revision/{rev}]``          repo info
* ``GET  /api/{type}s/{ns}/{name}/tree/{rev}[/{path}]``       tree listing (paged)
* ``POST /api/{type}s/{ns}/{name}/paths-info/{rev}``          paths info
* ``GET  /api/{type}s/{ns}/{name}/commits/{rev}``             commit list
* ``POST /api/{type}s/{ns}/{name}/preupload/{rev}``           upload modes
* ``POST /api/{type}s/{ns}/{name}/commit/{rev}``              NDJSON commit
* ``HEAD|GET /[{type}s/]{ns}/{name}/resolve/{rev}/{path}``    file download

The preupload answer puts every file in "regular" mode, so clients send file
contents base64-inlined in the commit and never try LFS or Xet storage (which
this fake does not have). A request for anything else is answered 404 and is
listed in ``unhandled`` so a test can tell a missing route from a missing file.

Auth mirrors the Hub: a wrong bearer token is 401 everywhere, writes need the
write token (``read_token`` gets 403), private repos are invisible (401) without
a valid token. The request log keeps method, path and status only, never headers.

Storage: blobs are content-addressed by their git SHA-1 under ``root/blobs``;
each repo keeps its commit history (path -> blob id per commit) in
``repo.json`` and a checkout of its head under ``checkout/``. Every response
carries ``Connection: close`` and every read is bounded by a size cap and a
socket timeout, so no handler thread can hang the server's shutdown.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

# Largest request body accepted (commits carry base64 file contents).
MAX_BODY_BYTES = 256 * 1024 * 1024
# Most chunks accepted in a chunked request body (keeps the read loop bounded).
MAX_CHUNKS = 100_000
# Seconds a handler waits on a silent client before giving up on the request.
SOCKET_TIMEOUT_S = 30
# The Hub pages tree listings at 1000 entries, 50 when expanded with commit info.
TREE_PAGE_SIZE = 1000
TREE_PAGE_SIZE_EXPANDED = 50

_URL_PREFIX = {"dataset": "datasets/", "model": "", "space": "spaces/"}
_API_TYPES = {"datasets": "dataset", "models": "model", "spaces": "space"}
_INVALID_CREDENTIALS = "Invalid credentials in Authorization header"
_INITIAL_GITATTRIBUTES = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"


def git_blob_oid(data: bytes) -> str:
    """The git SHA-1 of a blob: what the Hub reports as a regular file's oid."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the fake saw it: no headers, so never a token."""

    method: str
    path: str  # as sent, query string included
    status: int
    authorized: bool  # whether a valid token came with it


class HubError(Exception):
    """Raised inside a handler to answer with a Hub-style error response."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


class _Repo:
    """One repository: its visibility and its linear history on ``main``."""

    def __init__(self, folder: Path, repo_type: str, repo_id: str, private: bool, commits: list[dict]):
        self.folder = folder
        self.repo_type = repo_type
        self.repo_id = repo_id
        self.private = private
        self.commits = commits  # oldest first; each {"oid", "title", "message", "date", "tree": {path: oid}}

    @property
    def head(self) -> dict:
        return self.commits[-1]

    def save(self) -> None:
        state = {"private": self.private, "commits": self.commits}
        (self.folder / "repo.json").write_text(json.dumps(state, indent=1))

    def find_commit(self, revision: str) -> dict | None:
        if revision in ("main", "refs/heads/main"):
            return self.head
        if 7 <= len(revision) <= 40 and all(c in "0123456789abcdef" for c in revision):
            for commit in reversed(self.commits):
                if commit["oid"].startswith(revision):
                    return commit
        return None

    def last_commit_touching(self, path: str, upto: dict) -> dict:
        """The newest commit (up to ``upto``) that changed ``path`` or something below it."""
        history = self.commits[: self.commits.index(upto) + 1]
        found, previous = history[0], None
        for commit in history:  # bounded by the repo's history
            fingerprint = _subtree_fingerprint(commit["tree"], path)
            if fingerprint != previous:
                found = commit
            previous = fingerprint
        return found


def _subtree_fingerprint(tree: dict[str, str], path: str) -> str | None:
    if path in tree:
        return tree[path]
    prefix = path + "/"
    items = sorted((p, oid) for p, oid in tree.items() if p.startswith(prefix))
    return hashlib.sha1(json.dumps(items).encode()).hexdigest() if items else None


class _Store:
    """Repos and blobs on disk; every method is called with the server lock held."""

    def __init__(self, root: Path):
        self.root = root
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], _Repo] = {}
        self._counter = 0

    def put_blob(self, data: bytes) -> str:
        oid = git_blob_oid(data)
        path = self.blobs / oid
        if not path.exists():
            path.write_bytes(data)
        return oid

    def blob(self, oid: str) -> bytes:
        return (self.blobs / oid).read_bytes()

    def blob_size(self, oid: str) -> int:
        return (self.blobs / oid).stat().st_size

    def create_repo(self, repo_type: str, repo_id: str, private: bool) -> _Repo:
        folder = self.root / "repos" / (repo_type + "s") / repo_id
        folder.mkdir(parents=True, exist_ok=False)
        repo = _Repo(folder, repo_type, repo_id, private, [])
        # Like the Hub, a new repo starts with one commit holding .gitattributes.
        self.add_commit(repo, {".gitattributes": self.put_blob(_INITIAL_GITATTRIBUTES)}, "initial commit", "")
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def add_commit(self, repo: _Repo, tree: dict[str, str], title: str, message: str) -> dict:
        self._counter += 1
        parent = repo.head["oid"] if repo.commits else None
        seed = json.dumps([parent, sorted(tree.items()), title, message, self._counter, time.time_ns()])
        commit = {
            "oid": hashlib.sha1(seed.encode()).hexdigest(),
            "title": title,
            "message": message,
            "date": _now_iso(),
            "tree": dict(tree),
        }
        repo.commits.append(commit)
        repo.save()
        self._checkout(repo)
        return commit

    def _checkout(self, repo: _Repo) -> None:
        checkout = repo.folder / "checkout"
        if checkout.exists():
            shutil.rmtree(checkout)
        for path, oid in repo.head["tree"].items():
            target = checkout / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.blob(oid))


def _entries(store: _Store, repo: _Repo, commit: dict, expand: bool) -> dict[str, dict]:
    """Every file and folder of a commit as Hub path-info dicts, keyed by path."""
    tree = commit["tree"]
    folders: set[str] = set()
    for path in tree:
        parts = path.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folders.add("/".join(parts[:depth]))
    out: dict[str, dict] = {}
    for path, oid in tree.items():
        out[path] = {"type": "file", "oid": oid, "size": store.blob_size(oid), "path": path}
    for folder in folders:
        fingerprint = _subtree_fingerprint(tree, folder)
        out[folder] = {"type": "directory", "oid": fingerprint, "size": 0, "path": folder}
    if expand:
        for path, entry in out.items():
            last = repo.last_commit_touching(path, commit)
            entry["lastCommit"] = {"id": last["oid"], "title": last["title"], "date": last["date"]}
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S  # bounds every read from a silent client
    server: _Server

    # -- plumbing ---------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the request log below replaces stderr noise

    def _dispatch(self) -> None:
        self.close_connection = True
        split = urlsplit(self.path)
        self.query = parse_qs(split.query)
        # Split before unquoting: revisions and tree paths arrive %2F-encoded in one segment.
        self.segments = [unquote(s) for s in split.path.split("/")[1:]]
        self.auth = self._auth_level()
        self.body_consumed = False
        status = 500
        try:
            if self.auth == "invalid":
                raise HubError(401, _INVALID_CREDENTIALS)
            status = self._route()
        except HubError as err:
            status = err.status
            self._drain_body()
            self._send_error(err)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            status = 499  # the client went away; nothing left to answer
        except Exception as exc:  # a bug in the fake: say so instead of hanging the client
            status = 500
            self._send_error(HubError(500, f"fake hub error: {type(exc).__name__}: {exc}"))
            self.server.record_crash(exc)
        finally:
            self.server.record(LoggedRequest(self.command, self.path, status, self.auth in ("write", "read")))

    def _auth_level(self) -> str:
        header = self.headers.get("Authorization")
        if header is None:
            return "none"
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return "invalid"
        if value == self.server.token:
            return "write"
        if self.server.read_token is not None and value == self.server.read_token:
            return "read"
        return "invalid"

    def _read_body(self) -> bytes:
        self.body_consumed = True
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise HubError(413, "Request body too large for the fake hub")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        body = bytearray()
        for _ in range(MAX_CHUNKS):
            line = self.rfile.readline(64).split(b";")[0].strip()
            try:
                size = int(line or b"0", 16)
            except ValueError:
                raise HubError(400, "Malformed chunked body") from None
            if size == 0:
                self.rfile.readline(64)
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise HubError(413, "Request body too large for the fake hub")
            body += self.rfile.read(size)
            self.rfile.readline(64)
        raise HubError(413, "Too many chunks for the fake hub")

    def _drain_body(self) -> None:
        """Read an unread request body before answering an error, so that closing the
        socket does not reset the connection under the client while it still sends."""
        if self.body_consumed:
            return
        try:
            self._read_body()
        except (HubError, OSError):
            pass

    def _json_body(self) -> object:
        try:
            return json.loads(self._read_body() or b"null")
        except json.JSONDecodeError as exc:
            raise HubError(400, f"Invalid JSON body: {exc}") from None

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict | None = None,
        content_type: str = "application/json",
    ) -> int:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()
        return status

    def _send_json(self, payload: object, status: int = 200, headers: dict | None = None) -> int:
        return self._send(status, json.dumps(payload).encode(), headers)

    def _send_error(self, err: HubError) -> None:
        headers = {"X-Error-Message": err.message, **err.headers}
        if err.code is not None:
            headers["X-Error-Code"] = err.code
        try:
            self._send(err.status, json.dumps({"error": err.message}).encode(), headers)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # -- routing ----------------------------------------------------------------

    def _route(self) -> int:
        seg, method = self.segments, self.command
        if seg[:1] == ["api"]:
            if seg == ["api", "repos", "create"] and method == "POST":
                return self._create_repo()
            if seg == ["api", "validate-yaml"] and method == "POST":
                self._read_body()
                return self._send_json({"errors": [], "warnings": []})
            if seg == ["api", "whoami-v2"] and method == "GET":
                return self._whoami()
            if len(seg) >= 4 and seg[1] in _API_TYPES:
                repo_type, repo_id, rest = _API_TYPES[seg[1]], f"{seg[2]}/{seg[3]}", seg[4:]
                if not rest and method == "GET":
                    return self._repo_info(repo_type, repo_id, "main")
                if len(rest) == 2 and rest[0] == "revision" and method == "GET":
                    return self._repo_info(repo_type, repo_id, rest[1])
                if len(rest) >= 2 and rest[0] == "tree" and method == "GET":
                    return self._tree(repo_type, repo_id, rest[1], "/".join(rest[2:]))
                if len(rest) == 2 and rest[0] == "paths-info" and method == "POST":
                    return self._paths_info(repo_type, repo_id, rest[1])
                if len(rest) == 2 and rest[0] == "commits" and method == "GET":
                    return self._commits(repo_type, repo_id, rest[1])
                if len(rest) == 2 and rest[0] == "preupload" and method == "POST":
                    return self._preupload(repo_type, repo_id, rest[1])
                if len(rest) == 2 and rest[0] == "commit" and method == "POST":
                    return self._commit(repo_type, repo_id, rest[1])
        elif method in ("GET", "HEAD"):
            repo_type = (
                "dataset" if seg[:1] == ["datasets"] else "space" if seg[:1] == ["spaces"] else "model"
            )
            offset = 0 if repo_type == "model" else 1
            if len(seg) >= offset + 5 and seg[offset + 2] == "resolve":
                repo_id = f"{seg[offset]}/{seg[offset + 1]}"
                revision, path = seg[offset + 3], "/".join(seg[offset + 4 :])
                return self._resolve(repo_type, repo_id, revision, path)
        self.server.record_unhandled(f"{method} {self.path}")
        raise HubError(404, f"Route not implemented by the fake hub: {method} {urlsplit(self.path).path}")

    # -- helpers ----------------------------------------------------------------

    def _require_write(self, what: str) -> None:
        if self.auth == "none":
            raise HubError(401, f"You must be authenticated to {what}")
        if self.auth != "write":
            raise HubError(403, f"You don't have the rights to {what}: this token is read-only")

    def _repo(self, repo_type: str, repo_id: str) -> _Repo:
        repo = self.server.store.repos.get((repo_type, repo_id))
        # Missing and private-without-token look the same, as on the Hub.
        if repo is None or (repo.private and self.auth not in ("write", "read")):
            raise HubError(401 if self.auth == "none" else 404, "Repository not found", "RepoNotFound")
        return repo

    def _commit_for(self, repo: _Repo, revision: str) -> dict:
        commit = repo.find_commit(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def _repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.server.endpoint}/{_URL_PREFIX[repo_type]}{repo_id}"

    # -- endpoints --------------------------------------------------------------

    def _whoami(self) -> int:
        if self.auth == "none":
            raise HubError(401, "You must be authenticated")
        role = "write" if self.auth == "write" else "read"
        return self._send_json(
            {
                "type": "user",
                "name": self.server.user,
                "auth": {"type": "access_token", "accessToken": {"role": role}},
            }
        )

    def _create_repo(self) -> int:
        self._require_write("create a repository")
        payload = self._json_body()
        if not isinstance(payload, dict) or not payload.get("name"):
            raise HubError(400, "Missing repository name")
        repo_type = payload.get("type") or "model"
        if repo_type not in _URL_PREFIX:
            raise HubError(400, f"Invalid repo type: {repo_type}")
        namespace = payload.get("organization") or self.server.user
        repo_id = f"{namespace}/{payload['name']}"
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        url = self._repo_url(repo_type, repo_id)
        with self.server.lock:
            if (repo_type, repo_id) in self.server.store.repos:
                return self._send_json({"error": "You already created this repo", "url": url}, status=409)
            self.server.store.create_repo(repo_type, repo_id, private)
        return self._send_json({"url": url, "name": repo_id, "id": repo_id})

    def _repo_info(self, repo_type: str, repo_id: str, revision: str) -> int:
        with self.server.lock:
            repo = self._repo(repo_type, repo_id)
            commit = self._commit_for(repo, revision)
            info = {
                "_id": hashlib.sha1(repo_id.encode()).hexdigest()[:24],
                "id": repo_id,
                "author": repo_id.split("/")[0],
                "sha": commit["oid"],
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "createdAt": repo.commits[0]["date"],
                "lastModified": commit["date"],
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "siblings": [{"rfilename": path} for path in sorted(commit["tree"])],
            }
        return self._send_json(info, headers={"X-Repo-Commit": commit["oid"]})

    def _tree(self, repo_type: str, repo_id: str, revision: str, path: str) -> int:
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        expand = self.query.get("expand", ["false"])[0].lower() in ("1", "true")
        cursor = int(self.query.get("cursor", ["0"])[0] or 0)
        path = path.strip("/")
        with self.server.lock:
            repo = self._repo(repo_type, repo_id)
            commit = self._commit_for(repo, revision)
            entries = _entries(self.server.store, repo, commit, expand)
        if path and (path not in entries or entries[path]["type"] != "directory"):
            raise HubError(404, f"{path} does not exist on {revision}", "EntryNotFound")
        prefix = path + "/" if path else ""
        below = [e for p, e in entries.items() if p.startswith(prefix)]
        if not recursive:
            below = [e for e in below if "/" not in e["path"][len(prefix) :]]
        # The Hub lists folders first, then files, each sorted by path.
        below.sort(key=lambda e: (e["type"] != "directory", e["path"]))
        size = TREE_PAGE_SIZE_EXPANDED if expand else TREE_PAGE_SIZE
        page = below[cursor : cursor + size]
        headers = {}
        if cursor + size < len(below):
            query = {k: v[0] for k, v in self.query.items()}
            query["cursor"] = str(cursor + size)
            url = f"{self.server.endpoint}{urlsplit(self.path).path}?{urlencode(query)}"
            headers["Link"] = f'<{url}>; rel="next"'
        return self._send_json(page, headers=headers)

    def _paths_info(self, repo_type: str, repo_id: str, revision: str) -> int:
        body = self._read_body().decode()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            form = json.loads(body or "{}")
            paths, expand = form.get("paths", []), bool(form.get("expand"))
        else:
            form = parse_qs(body)
            paths = form.get("paths", [])
            expand = form.get("expand", ["false"])[0].lower() in ("1", "true")
        with self.server.lock:
            repo = self._repo(repo_type, repo_id)
            commit = self._commit_for(repo, revision)
            entries = _entries(self.server.store, repo, commit, expand)
        found = [entries[p.strip("/")] for p in paths if p.strip("/") in entries]
        return self._send_json(found)

    def _commits(self, repo_type: str, repo_id: str, revision: str) -> int:
        with self.server.lock:
            repo = self._repo(repo_type, repo_id)
            commit = self._commit_for(repo, revision)
            history = repo.commits[: repo.commits.index(commit) + 1]
        items = [
            {
                "id": c["oid"],
                "title": c["title"],
                "message": c["message"],
                "date": c["date"],
                "authors": [{"user": self.server.user}],
            }
            for c in reversed(history)
        ]
        return self._send_json(items)

    def _preupload(self, repo_type: str, repo_id: str, revision: str) -> int:
        payload = self._json_body()
        with self.server.lock:
            repo = self._repo(repo_type, repo_id)
            self._require_write(f"upload to {repo_id}")
            commit = self._commit_for(repo, revision)
        files = payload.get("files", []) if isinstance(payload, dict) else []
        answer = [
            {
                "path": f["path"],
                # "regular": contents come inline in the commit, no LFS/Xet round trip.
                "uploadMode": "regular",
                "shouldIgnore": False,
                # The blob already there lets the client skip unchanged files, as on the Hub.
                "oid": commit["tree"].get(f["path"]),
            }
            for f in files
        ]
        return self._send_json({"files": answer, "commitOid": commit["oid"]})

    def _commit(self, repo_type: str, repo_id: str, revision: str) -> int:
        body = self._read_body()
        with self.server.lock:
            repo = self._repo(repo_type, repo_id)
            self._require_write(f"commit to {repo_id}")
            if revision not in ("main", "refs/heads/main"):
                raise HubError(400, f"The fake hub only commits to main, not {revision}")
            if self.query.get("create_pr", ["0"])[0] in ("1", "true"):
                raise HubError(400, "The fake hub does not implement pull requests")
            tree = dict(repo.head["tree"])
            header: dict = {}
            for number, line in enumerate(body.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    item = json.loads(line)
                    key, value = item["key"], item["value"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise HubError(400, f"Malformed commit line {number}") from None
                if key == "header":
                    header = value
                    parent = value.get("parentCommit")
                    if parent is not None and parent != repo.head["oid"]:
                        raise HubError(412, "A commit has happened since. Please refresh and try again.")
                elif key == "file":
                    path = _checked_path(value.get("path", ""))
                    if value.get("encoding") != "base64":
                        raise HubError(400, f"Unsupported encoding for {path}")
                    tree[path] = self.server.store.put_blob(base64.b64decode(value["content"]))
                elif key == "deletedFile":
                    tree.pop(_checked_path(value.get("path", "")), None)
                elif key == "deletedFolder":
                    prefix = _checked_path(value.get("path", "")).rstrip("/") + "/"
                    tree = {p: o for p, o in tree.items() if not p.startswith(prefix)}
                elif key == "lfsFile":
                    raise HubError(400, "The fake hub has no LFS storage; preupload said 'regular'")
                else:
                    raise HubError(400, f"Unknown commit operation: {key}")
            if not header.get("summary"):
                raise HubError(400, "Commit summary is required")
            commit = self.server.store.add_commit(
                repo, tree, header["summary"], header.get("description", "")
            )
        url = f"{self._repo_url(repo_type, repo_id)}/commit/{commit['oid']}"
        return self._send_json(
            {
                "success": True,
                "commitOid": commit["oid"],
                "commitUrl": url,
                "hookOutput": "",
                "pullRequestUrl": None,
            }
        )

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str) -> int:
        with self.server.lock:
            repo = self._repo(repo_type, repo_id)
            commit = self._commit_for(repo, revision)
            oid = commit["tree"].get(path)
            data = self.server.store.blob(oid) if oid is not None else None
        commit_header = {"X-Repo-Commit": commit["oid"]}
        if data is None:
            raise HubError(404, "Entry not found", "EntryNotFound", commit_header)
        headers = {
            **commit_header,
            "ETag": f'"{oid}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": f'inline; filename="{quote(path.rsplit("/", 1)[-1])}";',
        }
        span = _byte_range(self.headers.get("Range"), len(data))
        if span == "unsatisfiable":
            raise HubError(416, "Range not satisfiable", headers={"Content-Range": f"bytes */{len(data)}"})
        if span is None:
            return self._send(200, data, headers, "application/octet-stream")
        first, last = span
        headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        return self._send(206, data[first : last + 1], headers, "application/octet-stream")


def _checked_path(path: str) -> str:
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise HubError(400, f"Invalid path in commit: {path!r}")
    return path


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None | str:
    """(first, last) inclusive for a single satisfiable range, None for the whole
    file (no header or an unsupported form), or "unsatisfiable" for a 416."""
    if header is None or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes=") :].strip().partition("-")
    if not (first.isdigit() or last.isdigit()):
        return None
    if not first:  # suffix range: the last N bytes
        length = int(last)
        return "unsatisfiable" if length == 0 else (max(0, size - length), size - 1)
    start = int(first)
    end = min(int(last), size - 1) if last.isdigit() else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close; each one is bounded by SOCKET_TIMEOUT_S.
    daemon_threads = False
    block_on_close = True

    def __init__(self, root: Path, token: str, read_token: str | None, user: str):
        super().__init__(("127.0.0.1", 0), _Handler)
        host, port = self.server_address[:2]
        self.endpoint = f"http://{host}:{port}"
        self.lock = threading.RLock()
        self.store = _Store(root)
        self.token = token
        self.read_token = read_token
        self.user = user
        self.requests: list[LoggedRequest] = []
        self.unhandled: list[str] = []
        self.crashes: list[str] = []

    def record(self, request: LoggedRequest) -> None:
        with self.lock:
            self.requests.append(request)

    def record_unhandled(self, what: str) -> None:
        with self.lock:
            self.unhandled.append(what)

    def record_crash(self, exc: Exception) -> None:
        with self.lock:
            self.crashes.append(f"{type(exc).__name__}: {exc}")


class FakeHub:
    """Context manager running the fake Hub in a background thread."""

    def __init__(
        self,
        root: Path,
        token: str = "hf_fake_token",
        *,
        read_token: str | None = None,
        user: str = "fake-user",
    ):
        self._server = _Server(Path(root) / "fake_hub", token, read_token, user)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-hub", daemon=True
        )
        self.endpoint = self._server.endpoint
        self.token = token

    def __enter__(self) -> FakeHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()  # joins the (bounded) handler threads
        self._thread.join(timeout=5)

    # -- inspection for tests ----------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """Every request so far, oldest first (a copy)."""
        with self._server.lock:
            return list(self._server.requests)

    @property
    def unhandled(self) -> list[str]:
        """Requests for routes this fake does not implement."""
        with self._server.lock:
            return list(self._server.unhandled)

    @property
    def crashes(self) -> list[str]:
        """Exceptions raised by the fake itself (a test should expect none)."""
        with self._server.lock:
            return list(self._server.crashes)

    def repo_exists(self, repo_id: str, repo_type: str = "dataset") -> bool:
        with self._server.lock:
            return (repo_type, repo_id) in self._server.store.repos

    def is_private(self, repo_id: str, repo_type: str = "dataset") -> bool:
        with self._server.lock:
            return self._server.store.repos[(repo_type, repo_id)].private

    def commits(self, repo_id: str, repo_type: str = "dataset") -> list[dict]:
        """The repo's history on main, oldest first: oid, title, message, date, tree."""
        with self._server.lock:
            return json.loads(json.dumps(self._server.store.repos[(repo_type, repo_id)].commits))

    def repo_files(self, repo_id: str, repo_type: str = "dataset") -> dict[str, bytes]:
        """Path -> content at the head of main."""
        with self._server.lock:
            store = self._server.store
            tree = store.repos[(repo_type, repo_id)].head["tree"]
            return {path: store.blob(oid) for path, oid in sorted(tree.items())}

    def repo_dir(self, repo_id: str, repo_type: str = "dataset") -> Path:
        """Folder holding a checkout of the head of main."""
        with self._server.lock:
            return self._server.store.repos[(repo_type, repo_id)].folder / "checkout"
