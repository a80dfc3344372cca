"""Reading the dataset contract: a folder written by ``timgen-data build`` or a Hub dataset id.

Only the contract of DESIGN.md is read (the ``interactions`` and ``items`` configs), never
the store, so a dataset pulled from the Hub trains exactly like one built locally.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from timgen_model.errors import DatasetError

SPLITS = ("train", "validation", "test")
MODALITIES = ("text", "image", "video", "audio")
INTERACTION_COLUMNS = (
    "user_id", "item_ids", "timestamps", "actions", "devices", "platforms", "geos",
    "scores", "classes", "values", "is_target",
)
ITEM_COLUMNS = ("item_id", "title", "class", "classes", "year")


@dataclass
class ContractTables:
    """The two configs as Arrow tables, plus what the dataset says about itself."""

    source: str
    interactions: dict[str, pa.Table]
    items: pa.Table
    parameters: dict[str, Any] = field(default_factory=dict)
    encoders: dict[str, Any] = field(default_factory=dict)

    @property
    def modalities(self) -> tuple[str, ...]:
        """Content modalities with at least one vector in the items config."""
        present = []
        for m in MODALITIES:
            column = f"{m}_emb"
            if column in self.items.column_names and self.items[column].null_count < self.items.num_rows:
                present.append(m)
        return tuple(present)


def _check_columns(table: pa.Table, expected: tuple[str, ...], what: str, source: str) -> None:
    missing = [c for c in expected if c not in table.column_names]
    if missing:
        raise DatasetError(
            f"{source}: the {what} config lacks column(s) {', '.join(missing)}; "
            "it does not follow the timgen-data dataset contract (rebuild it with `timgen-data build`)"
        )


def _read_local(folder: Path) -> ContractTables:
    interactions = {}
    for split in SPLITS:
        shards = sorted((folder / "interactions").glob(f"{split}-*.parquet"))
        if not shards:
            raise DatasetError(
                f"{folder}: no interactions/{split}-*.parquet shard; point at a folder written by `timgen-data build`"
            )
        interactions[split] = pa.concat_tables(pq.read_table(s) for s in shards)
    item_shards = sorted((folder / "items").glob("*.parquet"))
    if not item_shards:
        raise DatasetError(f"{folder}: no items/*.parquet shard; point at a folder written by `timgen-data build`")
    items = pa.concat_tables(pq.read_table(s) for s in item_shards)
    build = {}
    if (folder / "build.json").exists():
        build = json.loads((folder / "build.json").read_text())
    return ContractTables(str(folder), interactions, items, build.get("parameters", {}), build.get("encoders", {}))


def _read_hub(repo_id: str, revision: str | None, token: str | None) -> ContractTables:
    # Imported here: `datasets` is slow to import and local folders never need it.
    from datasets import load_dataset

    try:
        inter = load_dataset(repo_id, "interactions", revision=revision, token=token)
        items = load_dataset(repo_id, "items", revision=revision, token=token)
    except Exception as exc:  # datasets raises many unrelated types for "not there"
        raise DatasetError(
            f"could not load dataset {repo_id!r} ({type(exc).__name__}: {exc}); give a folder written by "
            "`timgen-data build` or a Hub dataset id with 'interactions' and 'items' configs (set HF_TOKEN if private)"
        ) from exc
    for split in SPLITS:
        if split not in inter:
            raise DatasetError(f"{repo_id}: the interactions config has no {split!r} split")
    return ContractTables(
        repo_id,
        {split: inter[split].data.table for split in SPLITS},
        items["train"].data.table,
    )


def read_contract(source: str | Path, *, revision: str | None = None, token: str | None = None) -> ContractTables:
    """Read a dataset from a local build folder or, when no such folder exists, the Hub.

    >>> tables = read_contract("out/ml-100k")  # doctest: +SKIP
    >>> tables.interactions["train"].num_rows  # doctest: +SKIP
    943
    """
    path = Path(source)
    if path.is_dir():
        tables = _read_local(path)
    elif path.exists() or str(source).startswith((".", "/")) or str(source).count("/") > 1:
        raise DatasetError(f"{source}: not a dataset folder; give a folder written by `timgen-data build` or a Hub id")
    else:
        tables = _read_hub(str(source), revision, token)
    for split, table in tables.interactions.items():
        _check_columns(table, INTERACTION_COLUMNS, f"interactions/{split}", tables.source)
    _check_columns(tables.items, ITEM_COLUMNS, "items", tables.source)
    if tables.interactions["train"].num_rows == 0:
        raise DatasetError(f"{tables.source}: the train split is empty; nothing to train on")
    return tables
