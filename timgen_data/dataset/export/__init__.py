"""Export a built dataset folder to other toolkits' formats: RecBole atomic files and MMRec.

Both read the dataset contract only (never the store), so a dataset downloaded from the
Hub exports the same way as one built locally. Output is written into a staging folder
beside the target and swapped into place (see :mod:`timgen_common.output_folder`), so a
failed export never leaves half a folder; only a folder export wrote itself is replaced.

The dataset is read a batch of users at a time and the files are written as it is read
(:mod:`.history`, :mod:`.user_order`), so an export's memory does not grow with the dataset;
only per-item state (the items' lines, MMRec's id map and feature arrays) is held whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from timgen_data.dataset.export.dataset_files import open_dataset
from timgen_data.dataset.export.mmrec import write_mmrec
from timgen_data.dataset.export.recbole import write_recbole
from timgen_data.dataset.export.recbole_names import SUFFIX, is_reserved
from timgen_data.dataset.export.user_order import rows_in_export_order
from timgen_data.errors import UsageError
from timgen_common.output_folder import OutputFolder, Protected, protected_folders
from timgen_common.progress import SILENT, Progress

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
                   progress: Progress = SILENT, force: bool = False,
                   protect: Iterable[Protected] | None = None) -> ExportReport:
    """Export ``dataset_dir`` (written by ``timgen-data build``) to ``out_dir/<name>/``.

    For RecBole, a default name (the dataset folder's) that RecBole reserves gets ``-timgen``
    appended, and a reserved ``name`` is refused (see :mod:`.recbole_names`).

    ``out_dir/<name>`` may be new, empty, or an earlier export; ``force`` also replaces a
    folder of other files, never another command's output (such as the dataset itself) nor
    the data dir, the store's folder or their parents (``protect``, by default as the CLI
    resolves them).

    >>> export_dataset("out/ml-100k", "out/recbole", "recbole")  # doctest: +SKIP
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    dataset_dir = Path(dataset_dir)
    if fmt == "recbole" and name and is_reserved(name):
        raise UsageError(f"RecBole reserves the dataset name {name!r} (it would read its own copy or settings "
                         f"instead); choose another --name, such as {name + SUFFIX!r}")
    name = name or dataset_dir.resolve().name
    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"invalid dataset name {name!r}; give --name with a plain folder name")
    if fmt == "recbole" and is_reserved(name):
        name += SUFFIX
    target = Path(out_dir) / name
    folder = OutputFolder(target, "export", protect=protect if protect is not None else protected_folders(),
                          force=force, what="export", fix="choose another OUT folder or --name")
    progress.start("export: read dataset", total=None)
    try:
        files = open_dataset(dataset_dir)
    finally:
        progress.finish("export: read dataset")
    with folder.staged() as staging, rows_in_export_order(files, staging, progress) as rows:
        missing: dict[str, int] = {}
        if fmt == "recbole":
            written, tally, items = write_recbole(files, rows, staging, name, progress)
        else:
            written, tally, items, missing = write_mmrec(files, rows, staging, name, progress)
    return ExportReport(
        format=fmt, path=target, users=tally.users, items=items, interactions=tally.interactions,
        splits=dict(tally.splits), files=[target / p.name for p in written], missing_features=missing,
        untargeted=tally.untargeted,
    )


__all__ = ["FORMATS", "ExportReport", "export_dataset"]
