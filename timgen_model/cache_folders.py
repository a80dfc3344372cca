"""Where cached entries of a dataset live and how one is written so that a half-written one never opens.

Shared by the encoded splits (:mod:`timgen_model.encoded_cache`) and the review vectors
(:mod:`timgen_model.review_vectors`): both keep entries in one folder per dataset version,
``<root>/<identity>/<entry>``, where the root is the dataset's own cache folder or, when that
cannot be written, the user's cache folder. An entry is written into a ``.partial-`` folder
named after its writer's process and renamed into place with its ``meta.json`` written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from timgen_common.disk_full import is_disk_full
from timgen_model.contract import ContractSource

META = "meta.json"
_PARTIAL = ".partial-"


def digest(text: str) -> str:
    """A short, stable name for ``text`` (a dataset's identity, an encoder's key)."""
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_roots(source: ContractSource) -> list[Path]:
    """Where entries may be: the dataset's own cache folder, then the user's cache folder."""
    assert source.cache_root is not None
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    fallback = home / "timgen-data" / "encoded" / digest(str(source.cache_root.resolve()))
    return [source.cache_root, fallback]


def writable_folder(roots: list[Path], identity: str) -> Path:
    """The first root where this dataset version's entries can be written, tidied of leftovers."""
    for number, root in enumerate(roots):
        try:
            (root / identity).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if is_disk_full(exc) or number == len(roots) - 1:
                raise
            continue  # e.g. a read-only dataset folder: the user's cache folder is next
        _remove_leftovers(root, identity)
        return root / identity
    raise AssertionError("unreachable")


@contextmanager
def partial_entry(entry: Path) -> Iterator[Path]:
    """A fresh folder to write ``entry`` into; removed when the writing fails or is interrupted."""
    partial = entry.parent / f"{_PARTIAL}{entry.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    partial.mkdir()
    try:
        yield partial
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def publish_entry(partial: Path, entry: Path, meta: dict) -> None:
    """Move a fully written ``partial`` folder to ``entry``, its ``META`` file written last, so
    a folder without it never opens; a concurrent run that finished first wins."""
    (partial / META).write_text(json.dumps(meta))
    try:
        os.rename(partial, entry)
    except OSError:
        if not (entry / META).exists():
            raise
        shutil.rmtree(partial, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_leftovers(root: Path, identity: str) -> None:
    """Entries for earlier versions of the dataset's files, and partial entries whose writer died."""
    for stale in (p for p in root.iterdir() if p.is_dir() and p.name != identity):
        shutil.rmtree(stale, ignore_errors=True)
    for partial in (root / identity).glob(f"{_PARTIAL}*"):
        pid = partial.name.split("-")[-2]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(partial, ignore_errors=True)
