"""The Parquet files of a built dataset folder, checked against the contract without reading their rows.

Only the footers are read here (schemas, row counts), so a folder of any size is checked
in the same small memory; the rows are streamed later by :mod:`.history`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from timgen_contract import (
    REQUIRED_INTERACTION_COLUMNS,
    REQUIRED_ITEM_COLUMNS,
    SPLITS,
    missing_columns_problem,
    recorded_version,
    version_problem,
)
from timgen_data.errors import NothingToDoError, UsageError


@dataclass(frozen=True)
class DatasetFiles:
    """Shards of each config, in the order their rows are read (as the model package reads them)."""

    folder: Path
    interactions: dict[str, list[Path]]
    items: list[Path]
    users: list[Path]  # the optional users config; empty when the dataset has none

    def rows(self) -> int:
        """User rows over all three splits (a user counts once per split it is in)."""
        return sum(pq.ParquetFile(path).metadata.num_rows for shards in self.interactions.values() for path in shards)


def open_dataset(dataset_dir: Path | str) -> DatasetFiles:
    """List and check the shards of a folder written by ``timgen-data build``.

    >>> open_dataset("out/ml-100k").interactions["train"]  # doctest: +SKIP
    [PosixPath('out/ml-100k/interactions/train-00000-of-00001.parquet')]
    """
    folder = Path(dataset_dir)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such dataset folder; give a folder written by `timgen-data build`")
    problem = version_problem(_recorded_version(folder))
    if problem is not None:
        raise UsageError(f"{folder}: {problem}")
    interactions = {}
    for split in SPLITS:
        shards = sorted((folder / "interactions").glob(f"{split}-*.parquet"))
        if not shards:
            raise NothingToDoError(f"{folder}: no interactions/{split}-*.parquet shard; point at a folder written "
                                   "by `timgen-data build`")
        interactions[split] = shards
    items = sorted((folder / "items").glob("*.parquet"))
    if not items:
        raise NothingToDoError(f"{folder}: no items/*.parquet shard; point at a folder written by `timgen-data build`")
    for split, shards in interactions.items():
        _check_columns(shards, REQUIRED_INTERACTION_COLUMNS, f"interactions/{split}", folder)
    _check_columns(items, REQUIRED_ITEM_COLUMNS, "items", folder)
    if sum(pq.read_metadata(path).num_rows for path in interactions["train"]) == 0:
        raise NothingToDoError(f"{folder}: the train split is empty; nothing to train on")
    users = sorted((folder / "users").glob("*.parquet")) if (folder / "users").is_dir() else []
    return DatasetFiles(folder, interactions, items, users)


def _check_columns(shards: list[Path], expected: tuple[str, ...], what: str, folder: Path) -> None:
    for path in shards:
        try:
            names = pq.read_schema(path).names
        except (pa.ArrowException, OSError) as exc:
            raise NothingToDoError(f"{path}: not a readable Parquet file ({exc}); rebuild the dataset with "
                                   "`timgen-data build`") from exc
        problem = missing_columns_problem(names, expected, what)
        if problem is not None:
            raise NothingToDoError(f"{folder}: {problem}")


def _recorded_version(folder: Path) -> object:
    """The format version the folder's ``build.json`` records; None without a readable one
    (the columns are checked all the same)."""
    try:
        return recorded_version(json.loads((folder / "build.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
