"""Checksums of files and folders, computed in one streaming pass."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from timgen_data.errors import UsageError

_CHUNK = 1 << 20
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")
HEX_DIGITS = {"md5": 32, "sha256": 64}
_EXAMPLES = {"md5": "c4d9eecfca2ab87c1945afe126590906",
             "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}


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


def checked_digest(value: str | None, algorithm: str) -> str | None:
    """A checksum the user gave, lower-cased; UsageError if it cannot be an ``algorithm`` digest.

    Checked before any request, so a typo fails at once instead of after a whole download.

    >>> checked_digest(" C4D9EECFCA2AB87C1945AFE126590906 ", "md5")
    'c4d9eecfca2ab87c1945afe126590906'
    """
    if value is None:
        return None
    digits = HEX_DIGITS[algorithm]
    cleaned = value.strip().lower()
    if len(cleaned) != digits or any(c not in "0123456789abcdef" for c in cleaned):
        raise UsageError(
            f"--{algorithm} {value!r} is not a valid {algorithm} checksum: it must be {digits} hexadecimal digits "
            f"(0-9, a-f), such as {_EXAMPLES[algorithm]}; copy it again from where the file is published"
        )
    return cleaned
