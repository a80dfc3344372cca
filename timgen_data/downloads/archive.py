"""Safe, atomic, bounded zip extraction.

Members are checked before anything is written: absolute paths, drive letters,
``..`` components and symlinks are refused, so nothing can land outside ``dest``;
an archive whose central directory says it unpacks to more than its
:class:`UnpackLimits` allow (a zip bomb) is refused; and the disk must have room for
everything it unpacks to. While writing, a member that yields more bytes than its
header declared stops the extraction too, since a zip can lie about sizes.
Extraction goes into a hidden folder next to ``dest`` that is renamed onto
``dest`` only once every member was written, so a crash (or a full disk) never
leaves a half-extracted ``dest``. A marker file records which archive (by sha256) the
folder came from, so callers can skip extracting the same archive twice.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from timgen_data.disk_space import disk_full_error, ensure_room, human_bytes, is_disk_full
from timgen_data.downloads.checksums import file_digests
from timgen_data.downloads.download_limits import UnpackLimits, current_unpack_limits
from timgen_data.errors import ArchiveError
from timgen_common.progress import SILENT, Progress

MARKER = ".extracted"
# Not content: our marker, and the resource-fork folder macOS adds to zips it makes.
_NOT_CONTENT = {MARKER, "__MACOSX"}
_CHUNK = 1 << 20
_DRIVE = re.compile(r"^[A-Za-z]:")
_SEPARATORS = re.compile(r"[\\/]+")  # zips made on Windows sometimes use backslashes


def extract_zip(
    archive: Path, dest: Path, *, limits: UnpackLimits | None = None, progress: Progress = SILENT
) -> Path:
    """Extract ``archive`` into ``dest`` (replacing it if present); returns ``dest``.

    ``limits`` defaults to those in effect (:func:`current_unpack_limits`).

    >>> extract_zip(Path("downloads/ml-1m.zip"), Path("raw/movielens/1m"))  # doctest: +SKIP
    PosixPath('raw/movielens/1m')
    """
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise ArchiveError(f"{archive} does not exist; download it first.")
    sha256 = file_digests(archive)[0]
    limits = limits or current_unpack_limits()
    allowed = limits.allowed(archive.stat().st_size)
    with _reading(archive) as zf:
        declared = _declared_size(archive, zf, allowed, limits)
    dest.parent.mkdir(parents=True, exist_ok=True)
    what = f"the files of {archive.name}"
    ensure_room(dest.parent, declared, what=what)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".extracting", dir=dest.parent))
    try:
        _extract_into(archive, staging, allowed, progress)
        # Written last and inside the staging folder: its presence proves a complete extraction.
        (staging / MARKER).write_text(sha256 + "\n", encoding="ascii")
        _move_into_place(staging, dest)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError) and is_disk_full(exc):
            raise disk_full_error(dest.parent, declared, what=what) from exc
        raise
    return dest


def single_top_folder(dest: Path) -> Path:
    """The one top-level folder if the archive had exactly one (``ml-1m/``), else ``dest``."""
    entries = [p for p in Path(dest).iterdir() if p.name not in _NOT_CONTENT]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return Path(dest)


def extracted_matches(dest: Path, sha256: str) -> bool:
    """True if ``dest`` is a complete extraction of the archive with this sha256."""
    try:
        recorded = (Path(dest) / MARKER).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return recorded == sha256.strip().lower()


@contextmanager
def _reading(archive: Path) -> Iterator[zipfile.ZipFile]:
    """The open archive; a damaged one becomes a one-line ArchiveError."""
    try:
        with zipfile.ZipFile(archive) as zf:
            yield zf
    except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise ArchiveError(
            f"{archive} is truncated or corrupt ({exc}). Delete it and re-run, "
            "or re-run with --force to download it again."
        ) from exc


def _declared_size(archive: Path, zf: zipfile.ZipFile, allowed: float, limits: UnpackLimits) -> int:
    """What the central directory says the archive unpacks to; ArchiveError past ``allowed``."""
    declared = sum(info.file_size for info in zf.infolist() if not info.is_dir())
    if declared <= allowed:
        return declared
    if limits.max_bytes is not None:
        why = f"over the {human_bytes(allowed)} allowed (--max-unpacked-size)"
    else:
        ratio = declared / max(archive.stat().st_size, 1)
        why = (f"{ratio:.0f} times its own size, as zip bombs do: over the {human_bytes(allowed)} allowed for an "
               f"archive this size")
    raise ArchiveError(
        f"{archive.name} would unpack to {human_bytes(declared)}, {why}; nothing was extracted. "
        f"If you trust it, re-run with --max-unpacked-size {_round_up(declared)}; otherwise delete {archive}"
    )


def _extract_into(archive: Path, root: Path, allowed: float, progress: Progress) -> None:
    task = f"extract {archive.name}"
    with _reading(archive) as zf:
        members = zf.infolist()
        # Check every member before writing any, so a hostile archive writes nothing.
        targets = [_safe_target(archive, root, info) for info in members]
        progress.start(task, total=sum(i.file_size for i in members if not i.is_dir()), unit="B")
        written = 0
        for info, target in zip(members, targets):
            if target is None:
                continue
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # Reading checks each member's CRC at its end, so no separate testzip() pass.
            with zf.open(info) as src, target.open("wb") as out:
                member = 0
                while chunk := src.read(_CHUNK):
                    member += len(chunk)
                    written += len(chunk)
                    # The sizes were checked from the central directory; this catches an archive that lies.
                    if member > info.file_size or written > allowed:
                        raise ArchiveError(
                            f"{archive.name}: member {info.filename!r} unpacks to more than the "
                            f"{human_bytes(info.file_size)} its header declares; refusing to extract it, nothing "
                            f"was kept. Delete {archive} and download it again from a trusted source."
                        )
                    out.write(chunk)
                    progress.advance(task, len(chunk))
        progress.finish(task)


def _safe_target(archive: Path, root: Path, info: zipfile.ZipInfo) -> Path | None:
    """Where a member goes under ``root``; None for a no-op entry such as ``./``."""
    name = info.filename

    def refuse(why: str) -> ArchiveError:
        return ArchiveError(
            f"{archive.name}: member {name!r} {why}; refusing to extract it. "
            f"Delete {archive} and download it again from a trusted source."
        )

    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise refuse("has an absolute path")
    parts = [p for p in _SEPARATORS.split(name) if p not in ("", ".")]
    if ".." in parts:
        raise refuse("contains a '..' component")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise refuse("is a symbolic link")
    if not parts:
        return None
    target = root.joinpath(*parts)
    # Belt and braces: the checks above should make this impossible.
    if not target.resolve().is_relative_to(root.resolve()):
        raise refuse("would be written outside the destination folder")
    return target


def _round_up(size: int) -> str:
    """A ``--max-unpacked-size`` value a little above ``size``, such as ``'231MB'``."""
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if size >= factor or unit == "KB":
            return f"{-(-size * 11 // 10 // factor)}{unit}"
    raise AssertionError("unreachable")


def _move_into_place(staging: Path, dest: Path) -> None:
    """Rename ``staging`` to ``dest``, first moving any old ``dest`` out of the way.

    POSIX cannot rename a folder onto a non-empty one, hence two renames; if we die
    between them ``dest`` is absent (never partial) and the next run re-extracts.
    """
    if not os.path.lexists(dest):
        os.rename(staging, dest)
        return
    old = dest.parent / f".{dest.name}.{uuid.uuid4().hex}.old"
    os.rename(dest, old)
    try:
        os.rename(staging, dest)
    except BaseException:
        os.rename(old, dest)  # put the previous extraction back
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()
