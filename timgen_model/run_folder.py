"""The run folder ``train`` writes into.

A new run is written in place, so an interrupted one can be continued with ``resume``.
An earlier run is never replaced silently: it is continued (``resume``) or replaced whole
(``overwrite``), in which case the new run trains in a staging folder beside it and is
swapped in when it finishes, so an interrupted ``overwrite`` leaves the earlier run as it
was. A folder that holds anything but a run is refused (see ``timgen_common.output_folder``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from timgen_common.output_folder import OutputFolder, Protected, protected_folders
from timgen_model.checkpoint import BEST, LAST
from timgen_model.errors import CheckpointError, ModelUsageError

# One staging name for every process of a multi-process run, so they all find it.
_STAGING_TAG = "run"


def holds_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run's checkpoints (from this version or an earlier one)."""
    return (Path(folder) / BEST).is_file() or (Path(folder) / LAST).is_file()


@dataclass
class RunFolder:
    """Where one training writes (``write_dir``) and how it ends up in ``out_dir``."""

    out_dir: Path
    write_dir: Path
    folder: OutputFolder
    resume: bool
    replacing: bool

    def prepare(self) -> None:
        """Make ``write_dir`` ready (in the main process only)."""
        if self.replacing:
            self.folder.stage(_STAGING_TAG)
        elif not self.resume:
            self.folder.prepare_in_place()

    def finish(self) -> None:
        """Put the finished run in place (in the main process only)."""
        if self.replacing:
            self.folder.commit(self.write_dir)

    def abandon(self) -> None:
        """After a failure or interrupt: an earlier run being replaced stays as it was."""
        if self.replacing:
            self.folder.discard(self.write_dir)


def claim_run_folder(out_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
                     protect: Iterable[Protected] | None = None) -> RunFolder:
    """Check that a run may be written to ``out_dir``; raise with the fix if not.

    >>> claim_run_folder("runs/ml100k", overwrite=True).replacing  # doctest: +SKIP
    True
    """
    out_dir = Path(out_dir)
    if resume and overwrite:
        raise ModelUsageError("--resume continues the run in --out and --overwrite replaces it; give one of them")
    if resume and not (out_dir / LAST).exists():
        raise CheckpointError(f"{out_dir / LAST} does not exist: nothing to resume; train without --resume")
    folder = OutputFolder(out_dir, "train", protect=protect if protect is not None else protected_folders(),
                          what="training run", fix="choose a new or empty --out such as runs/ml100k",
                          force_option=None, written_before=holds_run)
    replacing = not resume and holds_run(out_dir)
    if replacing and not overwrite:
        raise folder.refusal("it holds an earlier run",
                             "continue it with --resume, replace it with --overwrite, or choose a new --out")
    write_dir = folder.staging_path(_STAGING_TAG) if replacing else out_dir
    return RunFolder(out_dir, write_dir, folder, resume, replacing)
