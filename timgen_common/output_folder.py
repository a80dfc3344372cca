"""Folders a command writes as a whole: a dataset, an export, a training run, an experiment, the demo.

Nothing a user has is ever lost, so a command replaces only a folder it wrote itself,
recognised by the marker file it leaves there (``.timgen-output.json``, naming the command).
A non-empty folder holding anything else is refused; ``force`` lets a command replace
files no command of this toolkit wrote, never another command's output. The data dir,
the folder holding the store, the current folder and the home folder, and any parent of
them, are refused even when forced.

New content is written into a hidden staging folder beside the target
(``.<name>.timgen-staging-<pid>-<random>``) and swapped in at the end, so an interrupted
command leaves the previous content as it was. The next run removes the staging and
moved-aside (``.<name>.timgen-old-…``) folders that the same command left for the same
target, and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from timgen_common.errors import OutputFolderError
from timgen_common.locations import resolve_data_dir, resolve_db_url

MARKER = ".timgen-output.json"
_STAGING, _OLD = "timgen-staging", "timgen-old"


@dataclass(frozen=True)
class Protected:
    """A folder no output may replace or contain: ``what`` names it in messages."""

    path: Path
    what: str


def store_folder(db_url: str) -> Path | None:
    """The folder holding a SQLite store file; None for a server database or an in-memory one.

    >>> store_folder("sqlite:///timgen-data/store.sqlite")
    PosixPath('timgen-data')
    """
    from sqlalchemy.engine import make_url  # imported here: the model package uses this module without a store

    try:
        url = make_url(db_url)
    except Exception:  # a malformed URL is reported by whoever opens the store
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).parent


def protected_folders(data_dir: str | os.PathLike[str] | None = None, db: str | None = None) -> list[Protected]:
    """The folders outputs must keep away from, for this data dir and store (resolved as the CLI does)."""
    found = [Protected(resolve_data_dir(data_dir), "the data dir")]
    store = store_folder(resolve_db_url(db, data_dir))
    if store is not None:
        found.append(Protected(store, "the folder holding the store"))
    found.append(Protected(Path.cwd(), "the current folder"))
    try:
        found.append(Protected(Path.home(), "your home folder"))
    except RuntimeError:  # no home folder known for this user
        pass
    return found


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def written_by(folder: Path) -> str | None:
    """The command named by ``folder``'s marker, if it has a readable one."""
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")).get("command")
    except (OSError, ValueError, AttributeError):
        return None


class OutputFolder:
    """The target folder of one command, checked on creation (raising OutputFolderError).

    >>> folder = OutputFolder(Path("out/ml-1m"), "build", protect=protected_folders())  # doctest: +SKIP
    >>> with folder.staged() as staging:                                                # doctest: +SKIP
    ...     (staging / "build.json").write_text("{}")
    """

    def __init__(self, path: str | os.PathLike[str], command: str, *, protect: Iterable[Protected] = (),
                 force: bool = False, what: str = "output", fix: str = "choose a new or empty folder",
                 force_option: str | None = "--force", written_before: Callable[[Path], bool] | None = None):
        """``what`` names the output and ``fix`` says where else to write it, in messages;
        ``written_before`` recognises what ``command`` wrote before it left markers."""
        self.path = Path(path)
        self.command = command
        self.force = force
        self._real = _real(self.path)
        self._what, self._fix, self._force_option = what, fix, force_option
        self._written_before = written_before
        # "." or ".." say nothing in a message: show the folder they stand for.
        self.shown = str(self._real) if self.path.name in ("", ".", "..") else str(self.path)
        self._refuse_protected(protect)
        self._undo_interrupted_swap()
        self.replaces = self._check_contents()

    # -- checks -------------------------------------------------------------------------
    def refusal(self, reason: str, fix: str | None = None) -> OutputFolderError:
        """The one-line error: what cannot be written where, why, and the fix."""
        return OutputFolderError(f"cannot write the {self._what} into {self.shown}: {reason}; {fix or self._fix}")

    def _refuse_protected(self, protect: Iterable[Protected]) -> None:
        for folder in protect:
            real = _real(folder.path)
            if real == self._real:
                raise self.refusal(f"it is {folder.what}, which is never replaced")
            if real.is_relative_to(self._real):
                raise self.refusal(f"it holds {folder.what} ({folder.path}), which is never replaced")

    def _owned(self, folder: Path) -> bool:
        if written_by(folder) == self.command:
            return True
        return written_by(folder) is None and self._written_before is not None and self._written_before(folder)

    def _check_contents(self) -> bool:
        """True when there is something to replace; raises when it may not be replaced."""
        if self._real.exists() and not self._real.is_dir():
            raise self.refusal("it is a file")
        if not self._real.exists() or not any(self._real.iterdir()):
            return False
        if self._owned(self._real):
            return True
        other = written_by(self._real)
        if other is not None:
            raise self.refusal(f"it holds the output of `timgen-data {other}`, which `timgen-data {self.command}` "
                               "never replaces", f"{self._fix}, or delete it first if you no longer need it")
        if self.force:
            return True
        names = sorted(p.name for p in self._real.iterdir())
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        fix = self._fix + (f", or add {self._force_option} to replace it" if self._force_option else "")
        raise self.refusal(f"it holds files `timgen-data {self.command}` did not write ({listed})", fix)

    # -- staging beside the target ---------------------------------------------------------
    def _siblings(self, kind: str) -> list[Path]:
        """Staging (or moved-aside) folders for this target that no running process is using."""
        pattern = re.compile(rf"^\.{re.escape(self._real.name)}\.{kind}-(?:(\d+)-)?[\w]+$")
        parent = self._real.parent
        if not parent.is_dir():
            return []
        found = []
        for entry in parent.iterdir():
            match = pattern.match(entry.name)
            if match is None or entry.is_symlink() or not entry.is_dir():
                continue
            pid = int(match.group(1)) if match.group(1) else None
            if pid is not None and pid != os.getpid() and _running(pid):
                continue  # another run of this command is writing it right now
            found.append(entry)
        return found

    def _undo_interrupted_swap(self) -> None:
        """A run killed between the two renames of a swap left the old folder aside: put it back."""
        if self._real.exists():
            return
        moved = self._siblings(_OLD)
        if moved:
            try:
                os.replace(max(moved, key=lambda p: p.stat().st_mtime), self._real)
            except FileNotFoundError:  # another process put it back first
                pass

    def remove_stale(self) -> None:
        """Remove staging and moved-aside folders this command left for this target (only those)."""
        for entry in self._siblings(_STAGING) + self._siblings(_OLD):
            if not any(entry.iterdir()) or self._owned(entry):
                shutil.rmtree(entry, ignore_errors=True)

    def staging_path(self, tag: str | None = None) -> Path:
        """Where :meth:`stage` puts the staging folder; ``tag`` makes the name the same in every process."""
        suffix = tag or f"{os.getpid()}-{secrets.token_hex(4)}"
        return self._real.with_name(f".{self._real.name}.{_STAGING}-{suffix}")

    def _mark(self, folder: Path) -> None:
        (folder / MARKER).write_text(json.dumps({"command": self.command, "written_by": "timgen-data"}) + "\n",
                                     encoding="utf-8")

    def stage(self, tag: str | None = None) -> Path:
        """A fresh, marked staging folder beside the target, after removing stale ones."""
        self.remove_stale()
        self._real.parent.mkdir(parents=True, exist_ok=True)
        staging = self.staging_path(tag)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        self._mark(staging)
        return staging

    def commit(self, staging: Path) -> None:
        """Swap the finished staging folder into place; the replaced content is removed afterwards."""
        if not self._real.exists():
            os.replace(staging, self._real)
            return
        old = self._real.with_name(f".{self._real.name}.{_OLD}-{os.getpid()}-{secrets.token_hex(4)}")
        os.replace(self._real, old)
        os.replace(staging, self._real)
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def discard(staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    @contextmanager
    def staged(self) -> Iterator[Path]:
        """Yield a staging folder to write into; swapped into place on success, removed on failure."""
        staging = self.stage()
        try:
            yield staging
        except BaseException:
            self.discard(staging)
            raise
        self.commit(staging)

    def prepare_in_place(self) -> Path:
        """For output written in place (a run to resume, the demo): empty what it wrote before, mark it."""
        self.remove_stale()
        if self.replaces:
            shutil.rmtree(self._real)
        self._real.mkdir(parents=True, exist_ok=True)
        self._mark(self._real)
        return self.path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    except OverflowError:
        return False
    return True
