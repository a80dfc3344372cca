"""Reading the dataset contract: a folder written by ``timgen-data build`` or a Hub dataset id.

Only the contract (:mod:`timgen_contract`: the ``interactions`` and ``items`` configs) is
read, never the store, so a dataset pulled from the Hub trains exactly like one built
locally; a dataset of a format version this code does not read is refused up front.
``open_contract`` reads nothing but the files' footers: its splits hand out record batches
of a bounded number of rows, so a dataset larger than memory can be encoded.
``read_contract`` reads every split whole, for small datasets and tools that want tables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from timgen_contract import (
    MODALITIES,
    REQUIRED_INTERACTION_COLUMNS,
    REQUIRED_ITEM_COLUMNS,
    SPLITS,
    embedding_column,
    missing_columns_problem,
    recorded_version,
    version_problem,
)
from timgen_model.errors import DatasetError


def present_modalities(items: pa.Table) -> tuple[str, ...]:
    """Content modalities with at least one vector in the items config."""
    present = []
    for m in MODALITIES:
        column = embedding_column(m)
        if column in items.column_names and items[column].null_count < items.num_rows:
            present.append(m)
    return tuple(present)


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
        return present_modalities(self.items)


class SplitReader(Protocol):
    """One split of the interactions config, read a bounded number of rows at a time."""

    schema: pa.Schema
    num_rows: int

    def batches(self, columns: Sequence[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The split's rows in order, in batches of at most ``batch_rows`` rows of ``columns``."""

    def read_all(self) -> pa.Table:
        """The whole split as one table."""


class ParquetShards:
    """A split stored as Parquet shards, read row group by row group."""

    def __init__(self, paths: Sequence[Path]):
        self.paths = list(paths)
        try:
            self.schema = pq.read_schema(self.paths[0])
            self.num_rows = sum(pq.read_metadata(p).num_rows for p in self.paths)
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError(f"{self.paths[0].parent}: a shard is not a readable Parquet file ({exc}); "
                               "rebuild the dataset with `timgen-data build`") from exc

    def batches(self, columns: Sequence[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        for path in self.paths:
            # Not pre-buffered: a row group's column chunks are read page by page, not whole.
            shard = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
            yield from shard.iter_batches(batch_size=batch_rows, columns=list(columns), use_threads=False)

    def read_all(self) -> pa.Table:
        return pa.concat_tables(pq.read_table(p) for p in self.paths)

    def identity(self) -> list:
        """What changes when a shard is rewritten: names, sizes, modification times."""
        return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in self.paths]


class TableSplit:
    """A split already held as an Arrow table (in memory, or memory-mapped by ``datasets``)."""

    def __init__(self, table: pa.Table):
        self.table = table
        self.schema = table.schema
        self.num_rows = table.num_rows

    def batches(self, columns: Sequence[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        yield from self.table.select(list(columns)).to_batches(max_chunksize=batch_rows)

    def read_all(self) -> pa.Table:
        return self.table


@dataclass
class ContractSource:
    """A dataset's splits as batch readers and its items config (one row per item) as a table.

    ``identity`` changes whenever the dataset's files do; ``cache_root`` is where encoded
    copies of this dataset may be kept (None: nowhere, e.g. tables given in memory).
    """

    source: str
    splits: dict[str, SplitReader]
    items: pa.Table
    parameters: dict[str, Any] = field(default_factory=dict)
    encoders: dict[str, Any] = field(default_factory=dict)
    identity: str = ""
    cache_root: Path | None = None

    @property
    def modalities(self) -> tuple[str, ...]:
        return present_modalities(self.items)

    @classmethod
    def of_tables(cls, tables: ContractTables) -> "ContractSource":
        splits: dict[str, SplitReader] = {name: TableSplit(table) for name, table in tables.interactions.items()}
        return cls(tables.source, splits, tables.items, tables.parameters, tables.encoders)


def as_source(data: ContractTables | ContractSource) -> ContractSource:
    return ContractSource.of_tables(data) if isinstance(data, ContractTables) else data


def _check_columns(names: Sequence[str], expected: tuple[str, ...], what: str, source: str) -> None:
    problem = missing_columns_problem(names, expected, what)
    if problem is not None:
        raise DatasetError(f"{source}: {problem}")


def _open_local(folder: Path) -> ContractSource:
    build = {}
    if (folder / "build.json").exists():
        build = _build_info((folder / "build.json").read_text(), str(folder))
    _check_version(recorded_version(build), str(folder))
    splits: dict[str, SplitReader] = {}
    identity: dict[str, Any] = {}
    for split in SPLITS:
        shards = sorted((folder / "interactions").glob(f"{split}-*.parquet"))
        if not shards:
            raise DatasetError(
                f"{folder}: no interactions/{split}-*.parquet shard; point at a folder written by `timgen-data build`"
            )
        reader = ParquetShards(shards)
        splits[split], identity[split] = reader, reader.identity()
    item_shards = sorted((folder / "items").glob("*.parquet"))
    if not item_shards:
        raise DatasetError(f"{folder}: no items/*.parquet shard; point at a folder written by `timgen-data build`")
    items = pa.concat_tables(pq.read_table(s) for s in item_shards)
    identity["items"] = ParquetShards(item_shards).identity()
    return ContractSource(str(folder), splits, items, build.get("parameters", {}), build.get("encoders", {}),
                          json.dumps(identity, sort_keys=True), folder / ".cache" / "timgen-encoded")


def _open_hub(repo_id: str, revision: str | None, token: str | None) -> ContractSource:
    # Imported here: `datasets` is slow to import and local folders never need it.
    import datasets
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
    _check_version(_hub_version(repo_id, revision, token), repo_id)
    # datasets keeps each split as memory-mapped Arrow files named after their content.
    identity = {split: [f["filename"] for f in inter[split].cache_files] for split in SPLITS}
    identity["items"] = [f["filename"] for f in items["train"].cache_files]
    cache_root = Path(datasets.config.HF_DATASETS_CACHE) / "timgen-encoded" / repo_id.replace("/", "--")
    splits: dict[str, SplitReader] = {split: TableSplit(inter[split].data.table) for split in SPLITS}
    return ContractSource(repo_id, splits, items["train"].data.table, identity=json.dumps(identity, sort_keys=True),
                          cache_root=cache_root)


def _hub_version(repo_id: str, revision: str | None, token: str | None) -> Any:
    """The format version in the repo's ``build.json``; None when it has none (a dataset made
    by other means, or offline with no copy of the file)."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = hf_hub_download(repo_id, "build.json", repo_type="dataset", revision=revision, token=token)
    except EntryNotFoundError:
        return None
    except OSError as exc:  # huggingface_hub's HTTP errors are OSErrors too
        raise DatasetError(f"{repo_id}: could not read its build.json ({type(exc).__name__}: {exc}); "
                           "check the network and HF_TOKEN") from exc
    return recorded_version(_build_info(Path(path).read_text(), repo_id))


def _build_info(text: str, source: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        raise DatasetError(f"{source}: its build.json is not a JSON object; rebuild the dataset with "
                           "`timgen-data build`")
    return info


def _check_version(version: Any, source: str) -> None:
    problem = version_problem(version)
    if problem is not None:
        raise DatasetError(f"{source}: {problem}")


def open_contract(source: str | os.PathLike[str], *, revision: str | None = None,
                  token: str | None = None) -> ContractSource:
    """Open a dataset from a local build folder or, when no such folder exists, the Hub,
    reading no interaction yet.

    >>> source = open_contract("out/ml-100k")  # doctest: +SKIP
    >>> next(source.splits["train"].batches(["user_id"], 2)).num_rows  # doctest: +SKIP
    2
    """
    path = Path(source)
    if path.is_dir():
        opened = _open_local(path)
    elif path.exists() or str(source).startswith((".", "/")) or str(source).count("/") > 1:
        raise DatasetError(f"{source}: not a dataset folder; give a folder written by `timgen-data build` or a Hub id")
    else:
        opened = _open_hub(str(source), revision, token)
    for split, reader in opened.splits.items():
        _check_columns(reader.schema.names, REQUIRED_INTERACTION_COLUMNS, f"interactions/{split}", opened.source)
    _check_columns(opened.items.column_names, REQUIRED_ITEM_COLUMNS, "items", opened.source)
    if opened.splits["train"].num_rows == 0:
        raise DatasetError(f"{opened.source}: the train split is empty; nothing to train on")
    return opened


def read_contract(source: str | os.PathLike[str], *, revision: str | None = None,
                  token: str | None = None) -> ContractTables:
    """Read a dataset from a local build folder or, when no such folder exists, the Hub,
    every split whole (``open_contract`` reads it batch by batch).

    >>> tables = read_contract("out/ml-100k")  # doctest: +SKIP
    >>> tables.interactions["train"].num_rows  # doctest: +SKIP
    943
    """
    opened = open_contract(source, revision=revision, token=token)
    interactions = {split: reader.read_all() for split, reader in opened.splits.items()}
    return ContractTables(opened.source, interactions, opened.items, opened.parameters, opened.encoders)
