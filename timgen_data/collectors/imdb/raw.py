"""The crawl's raw pages: one JSON line per fetched response, for ``--load`` replays.

A live crawl appends every response the spider receives (robots.txt included, so a
replay obeys the same rules) to ``<data dir>/raw/imdb/<run key>.jsonl``. A replay
serves those bodies to the same spider, parse code and pipelines without touching the
network, so it builds the same store. Pages are keyed by path and query, not host, so
a crawl recorded against a mirror replays the same.
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from timgen_data.collectors.api import RawLog
from timgen_data.collectors.json_lines import read_json_file
from timgen_data.collectors.report import Rejection, Rejections
from timgen_data.errors import UsageError

_TITLE_PAGE = re.compile(r"(.*)/title/(tt\d{7,})/?")


def public_url(url: str) -> str:
    """``url`` without user:password (a proxy or mirror login must never be saved)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=host))


def page_key(url: str) -> str:
    """What identifies a page across hosts: its path and query."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def page_record(url: str, status: int, content_type: str | None, body: bytes, encoding: str | None) -> dict[str, Any]:
    record: dict[str, Any] = {"url": public_url(url), "status": status, "content_type": content_type,
                              "fetched_at": int(time.time())}
    if encoding:
        try:
            record["body"] = body.decode(encoding)
            record["encoding"] = encoding
            return record
        except (UnicodeDecodeError, LookupError):
            pass
    record["body_base64"] = base64.b64encode(body).decode("ascii")
    return record


def record_body(record: dict[str, Any]) -> bytes:
    if "body_base64" in record:
        return base64.b64decode(record["body_base64"])
    return str(record.get("body", "")).encode(record.get("encoding") or "utf-8")


class PageWriter:
    """Appends page records through the shared raw log (each line fsync'd as written, a line a
    killed crawl cut ended first); a page keeps its own shape, since its body may be bytes."""

    def __init__(self, path: Path):
        self._log = RawLog(path)
        self.path = self._log.path

    def write(self, record: dict[str, Any]) -> None:
        self._log.write(record)

    def close(self) -> None:
        pass  # each line is written and closed on its own


def read_pages(path: Path, rejections: Rejections | None = None) -> list[dict[str, Any]]:
    """Every saved page of a raw file, in order.

    A line that holds no page (a fragment a killed crawl left, a corrupt or hand-edited
    line) is passed over, and added to ``rejections`` with its number when given.
    """
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--load {path} does not exist; give a .jsonl file a live crawl saved under raw/imdb/")
    records, bad = [], Rejections()
    for line in read_json_file(path):
        problem = line.error if line.value is None else _page_problem(line.value)
        if problem is None:
            records.append(line.value)
        else:
            bad.add(Rejection(path.name, line.number, problem))
    if bad.count and not records:
        raise UsageError(f"--load {path} holds no saved pages ({bad.kept[0]}); give a .jsonl file a live crawl "
                         "saved under raw/imdb/")
    if rejections is not None:
        rejections.extend(bad)
    return records


def _page_problem(record: dict[str, Any]) -> str | None:
    status = record.get("status")
    if not isinstance(record.get("url"), str) or not isinstance(status, int) or isinstance(status, bool):
        return "not a saved page (needs a url and a numeric status)"
    if not isinstance(record.get("content_type"), (str, type(None))):
        return "a saved page whose content_type is not text"
    try:
        record_body(record)
    except (ValueError, LookupError, TypeError) as exc:  # binascii.Error is a ValueError
        return f"a saved page whose body does not decode ({exc})"
    return None


def replay_index(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The response to serve per page: the last successful one, else the last one.

    A file may hold several runs (a re-run appends), and a page that failed once and
    then succeeded must replay as the success the store holds.
    """
    index: dict[str, dict[str, Any]] = {}
    for record in records:
        key = page_key(record["url"])
        previous = index.get(key)
        if previous is None or int(record["status"]) < 400 or int(previous["status"]) >= 400:
            index[key] = record
    return index


def recorded_base(records: list[dict[str, Any]]) -> str | None:
    """The base URL of the crawl that wrote the file: what precedes ``/title/<tconst>/`` in its pages."""
    for record in records:
        parts = urlsplit(record["url"])
        if match := _TITLE_PAGE.fullmatch(parts.path):
            return f"{parts.scheme}://{parts.netloc}{match.group(1)}"
    return None


def recorded_titles(records: list[dict[str, Any]]) -> list[str]:
    """The tconsts whose title pages the file holds, in first-seen order."""
    found: dict[str, None] = {}
    for record in records:
        if match := _TITLE_PAGE.fullmatch(urlsplit(record["url"]).path):
            found[match.group(2)] = None
    return list(found)
