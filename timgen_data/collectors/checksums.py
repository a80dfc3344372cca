"""Checksums of files and folders, computed in one streaming pass."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_CHUNK = 1 << 20
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, md5) of a file."""
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def folder_digest(folder: Path) -> str:
    """sha256 over a folder's regular files (relative names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file_digests(path)[0].encode())
    return digest.hexdigest()


def parse_md5_file(text: str) -> str | None:
    """The checksum in a published ``.md5`` file, either ``md5sum`` or BSD ``MD5 (f) = h`` style.

    >>> parse_md5_file("MD5 (ml-1m.zip) = c4d9eecfca2ab87c1945afe126590906")
    'c4d9eecfca2ab87c1945afe126590906'
    """
    match = _MD5.search(text)
    return match.group(1).lower() if match else None
