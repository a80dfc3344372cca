"""Export a built dataset folder to other toolkits' formats: RecBole atomic files and MMRec.

Both read the dataset contract only (never the store), so a dataset downloaded from the
Hub exports the same way as one built locally. Output is written into a temporary folder
beside the target and renamed into place, so a failed export never leaves half a folder.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from timgen_data.build.export.history import FlatDataset, read_flat
from timgen_data.build.export.mmrec import write_mmrec
from timgen_data.build.export.recbole import write_recbole
from timgen_data.errors import UsageError
from timgen_data.progress import SILENT, Progress

FORMATS = ("recbole", "mmrec")


@dataclass
class ExportReport:
    format: str
    path: Path
    users: int
    items: int
    interactions: int
    splits: dict[str, int]
    files: list[Path]
    # Per feature file: how many exported items had no vector (zeros were written).
    missing_features: dict[str, int] = field(default_factory=dict)
    untargeted: int = 0

    def as_dict(self) -> dict:
        return {
            "format": self.format, "path": str(self.path), "users": self.users, "items": self.items,
            "interactions": self.interactions, "splits": self.splits,
            "files": [p.name for p in self.files], "missing_features": self.missing_features,
            "untargeted": self.untargeted,
        }


def export_dataset(dataset_dir: Path | str, out_dir: Path | str, fmt: str, *, name: str | None = None,
                   progress: Progress = SILENT) -> ExportReport:
    """Export ``dataset_dir`` (written by ``timgen-data build``) to ``out_dir/<name>/``.

    >>> export_dataset("out/ml-100k", "out/recbole", "recbole")  # doctest: +SKIP
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    dataset_dir = Path(dataset_dir)
    name = name or dataset_dir.resolve().name
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"invalid dataset name {name!r}; give --name with a plain folder name")
    progress.start("export: read dataset", total=None)
    try:
        data = read_flat(dataset_dir)
    finally:
        progress.finish("export: read dataset")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir))
    progress.start(f"export: {fmt}", total=None)
    try:
        missing: dict[str, int] = {}
        if fmt == "recbole":
            written = write_recbole(data, staging, name)
        else:
            written, missing = write_mmrec(data, staging, name)
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        progress.finish(f"export: {fmt}")
    return _report(fmt, target, data, [target / p.name for p in written], missing)


def _replace(staging: Path, target: Path) -> None:
    # The old export is moved aside first so the target name is never half-written.
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _report(fmt: str, target: Path, data: FlatDataset, files: list[Path], missing: dict[str, int]) -> ExportReport:
    splits = Counter(r.split for r in data.interactions)
    items = len({r.item_id for r in data.interactions}) if fmt == "mmrec" else len(data.items)
    return ExportReport(
        format=fmt, path=target, users=len({r.user_id for r in data.interactions}), items=items,
        interactions=len(data.interactions), splits={s: splits.get(s, 0) for s in ("train", "validation", "test")},
        files=files, missing_features=missing, untargeted=data.untargeted,
    )


__all__ = ["FORMATS", "ExportReport", "export_dataset"]
