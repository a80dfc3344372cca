"""A content-addressed blob store for media assets: the SHA-256 of the bytes is the name.

Layout::

    root/ab/cd/abcd...ef.png    one blob, named by its sha256, fanned out by its first 4 hex digits
    root/.staging/              temp files and folders being written; same filesystem as the blobs

Nothing from the outside world (URLs, titles, file names) is ever part of a path here:
the name is the digest and the extension is reduced to ``[a-z0-9]``. A blob appears
only through one ``os.replace`` of a finished file, so a crash leaves either no blob or
a whole one; what it can leave is a stale file in ``.staging``, which ``clean_staging``
removes. Identical content is stored once (``reused=True`` on the second put).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from timgen_data.errors import AssetError

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_EXTENSION = re.compile(r"^[a-z0-9]{1,16}$")
_SUFFIX_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_CHUNK = 1 << 20
STAGING = ".staging"


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    path: Path
    bytes: int
    mime: str | None
    reused: bool  # the same content was already in the store; nothing new was written


def safe_extension(extension: str | None) -> str:
    """``extension`` lower-cased without its dot if it is 1-16 of ``[a-z0-9]``, else "bin"."""
    candidate = (extension or "").strip().lower().removeprefix(".")
    return candidate if _EXTENSION.match(candidate) else "bin"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class ContentStore:
    """Blobs under ``root``, named by the SHA-256 of their bytes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.staging = self.root / STAGING

    def path_for(self, sha256: str, extension: str) -> Path:
        """Where a blob with this digest and extension lives (it may not exist)."""
        if not _SHA256.match(sha256):
            raise ValueError(f"not a lower-case hex sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{safe_extension(extension)}"

    def staging_path(self, suffix: str = "") -> Path:
        """A new, empty temp file in ``root/.staging``, ready to be written and then put.

        The file is created (not just named) so two callers never get the same path.
        """
        self.staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.staging, prefix="stage-", suffix=_SUFFIX_UNSAFE.sub("", suffix))
        os.close(fd)
        return Path(name)

    def staging_dir(self, prefix: str = "dir-") -> Path:
        """A new, empty folder in ``root/.staging`` for tools that write files of their own naming."""
        self.staging.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=self.staging, prefix=_SUFFIX_UNSAFE.sub("", prefix)))

    def clean_staging(self, older_than: float = 3600) -> int:
        """Remove staging files and folders last modified more than ``older_than`` seconds ago.

        Younger ones may belong to a fetch still running, so they stay. Returns how many
        entries were removed.
        """
        if not self.staging.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for entry in self.staging.iterdir():
            try:
                if entry.lstat().st_mtime >= cutoff:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except FileNotFoundError:
                continue  # another cleaner got there first
            removed += 1
        return removed

    def find(self, sha256: str) -> Path | None:
        """The stored blob with this digest, whatever its extension; None if absent."""
        if not _SHA256.match(sha256):
            return None
        folder = self.root / sha256[:2] / sha256[2:4]
        if not folder.is_dir():
            return None
        for candidate in sorted(folder.glob(f"{sha256}.*")):
            if candidate.is_file():
                return candidate
        return None

    def open(self, sha256: str) -> Path:
        """The path of a stored blob; AssetError if the digest is malformed or not stored."""
        found = self.find(sha256)
        if found is None:
            raise AssetError(f"blob {sha256!r} is not in the content store at {self.root}; fetch the asset again")
        return found

    def put_file(self, source: Path, *, mime: str | None, extension: str) -> StoredBlob:
        """Move ``source`` into the store under its digest; ``source`` is gone afterwards.

        If the same content is already stored, ``source`` is deleted and the existing
        blob returned with ``reused=True``.
        """
        source = Path(source)
        sha256 = sha256_file(source)
        size = source.stat().st_size
        existing = self.find(sha256)
        # A size mismatch cannot come from our atomic writes; treat such a blob as damaged
        # and replace it rather than hand it out.
        if existing is not None and existing.stat().st_size == size:
            source.unlink()
            return StoredBlob(sha256, existing, size, mime, reused=True)
        target = self.path_for(sha256, extension)
        target.parent.mkdir(parents=True, exist_ok=True)
        _move_atomically(source, target, self.staging)
        if existing is not None and existing != target:
            existing.unlink(missing_ok=True)
        return StoredBlob(sha256, target, size, mime, reused=False)


def _move_atomically(source: Path, target: Path, staging: Path) -> None:
    """os.replace when possible; across filesystems, copy next to the target, fsync, replace."""
    try:
        os.chmod(source, 0o644)  # mkstemp files are 0600; blobs are meant to be shared read-only
        os.replace(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    staging.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=staging, prefix="copy-")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, 0o644)
        os.replace(name, target)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    source.unlink()
