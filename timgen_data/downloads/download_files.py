"""The hidden files :func:`~timgen_data.downloads.download.download` keeps beside a download.

* ``.<name>.part``: the bytes received so far, resumed by the next attempt or run.
* ``.<name>.part.json``: where those bytes came from: the URL and the validator (strong
  ETag, else Last-Modified) of the response that started the partial file. A resume
  sends it as ``If-Range``, so a server whose file changed since answers with the whole
  new file instead of a range that would be spliced onto the old bytes.
* ``.<name>.verified``: the checksums a finished download passed when it was put in
  place (written only when at least one was checked). A finished download that fails a
  checksum given later is kept when this record vouches for it: the new value is the
  likelier mistake, and the file may have taken hours to fetch.

A record that cannot be read counts as absent: the download is then treated as one
whose origin is unknown, which only ever costs a fresh download, never wrong bytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import httpx


def response_validator(response: httpx.Response) -> str | None:
    """The validator to send in ``If-Range`` later: a strong ETag, else Last-Modified.

    Weak ETags (``W/"..."``) are never used: RFC 9110 forbids them in If-Range.
    """
    etag = response.headers.get("ETag", "").strip()
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified", "").strip() or None


def changed_since(response: httpx.Response, validator: str) -> bool:
    """True when a range answer names a different file than ``validator`` (from an earlier response).

    Compares like with like: an ETag (always quoted) with the ETag, a date with Last-Modified;
    an answer without that header says nothing.
    """
    header = "ETag" if validator.startswith('"') else "Last-Modified"
    current = response.headers.get(header, "").strip()
    return bool(current) and current != validator


@dataclass(frozen=True)
class PartialFile:
    """A download's partial file and the record of where its bytes came from."""

    path: Path

    @classmethod
    def of(cls, dest: Path) -> PartialFile:
        return cls(dest.parent / f".{dest.name}.part")

    @property
    def origin_file(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    def validator(self, url: str) -> str | None:
        """The validator recorded for these bytes when they came from ``url``; None if unknown."""
        origin = _read_json(self.origin_file)
        if origin.get("url") != url:
            return None  # another URL (a different mirror) tells nothing about this one's file
        validator = origin.get("validator")
        return validator if isinstance(validator, str) and validator else None

    def begin(self, url: str, validator: str | None) -> None:
        """Note where the bytes about to be written from the start come from."""
        if validator is None:
            self.origin_file.unlink(missing_ok=True)
            return
        _write_json(self.origin_file, {"url": url, "validator": validator})

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        self.origin_file.unlink(missing_ok=True)

    def move_to(self, dest: Path) -> None:
        """Put the finished bytes at ``dest`` in one rename."""
        os.replace(self.path, dest)
        self.origin_file.unlink(missing_ok=True)


def verified_record(dest: Path) -> Path:
    return dest.parent / f".{dest.name}.verified"


def record_verified(dest: Path, sha256: str, md5: str, checked: list[str]) -> None:
    """Note that ``dest`` (with these digests) passed the ``checked`` checksums; forget it if none."""
    record = verified_record(dest)
    if not checked:
        record.unlink(missing_ok=True)
        return
    _write_json(record, {"sha256": sha256, "md5": md5, "checked": checked})


def was_verified(dest: Path, sha256: str) -> bool:
    """True if ``dest``, as it is now (``sha256``), passed a checksum when it was downloaded."""
    return _read_json(verified_record(dest)).get("sha256") == sha256


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _write_json(path: Path, value: dict) -> None:
    # Through a temporary name, so a kill mid-write leaves the old record or none, never half of one.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(value) + "\n", encoding="utf-8")
    os.replace(temporary, path)
