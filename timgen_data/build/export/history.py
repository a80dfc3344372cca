"""A built dataset folder back to flat interactions, each tagged with the split that evaluates it.

The contract stores one row per user and split, each row a prefix of the user's history
ending at its last target. Exporters need the opposite view: every interaction once, in
chronological order per user, with the split in which it is a target. The longest row of a
user holds the whole history; the split of a position is the first split (train, validation,
test) whose row marks that position as a target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from timgen_data.errors import NothingToDoError, UsageError

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Interaction:
    user_id: str
    item_id: str
    timestamp: int
    action: str
    value: float  # the raw value (rating, watch seconds …); NaN where the source gave none
    split: str
    score: float = float("nan")  # the scenario's y_score


@dataclass
class Item:
    item_id: str
    title: str
    year: int | None
    classes: list[str]


@dataclass
class FlatDataset:
    """What the exporters read: interactions in user order, items, and the item vectors."""

    interactions: list[Interaction]
    items: dict[str, Item]
    embeddings: dict[str, dict[str, list[float] | None]]
    # Positions that no split evaluates (context before a time cut); exported as train.
    untargeted: int = 0
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # the users config's attributes, when built


def natural_key(value: str) -> tuple[int, int | str]:
    """Numeric ids in numeric order, before any other id, so "2" comes before "10"."""
    return (0, int(value)) if value.isdigit() else (1, value)


def read_flat(dataset_dir: Path) -> FlatDataset:
    """Read a folder written by ``timgen-data build`` into a :class:`FlatDataset`."""
    # The model package already reads the contract and checks its columns; reuse that
    # reader so the two sides agree on what a valid dataset folder is.
    from timgen_model.contract import read_contract
    from timgen_model.errors import DatasetError

    dataset_dir = Path(dataset_dir)
    if not dataset_dir.is_dir():
        raise UsageError(f"{dataset_dir}: no such dataset folder; give a folder written by `timgen-data build`")
    try:
        tables = read_contract(dataset_dir)
    except DatasetError as exc:
        raise NothingToDoError(str(exc)) from exc
    interactions, untargeted = _flatten(tables.interactions)
    items, embeddings = _items(tables.items)
    return FlatDataset(interactions, items, embeddings, untargeted, _users(dataset_dir / "users"))


def _users(folder: Path) -> dict[str, dict[str, Any]]:
    """``user_id -> attributes`` from the optional users config (absent: no attributes)."""
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    users: dict[str, dict[str, Any]] = {}
    for path in files:
        table = pq.read_table(path, columns=["user_id", "attributes"])
        for user_id, text in zip(table.column("user_id").to_pylist(), table.column("attributes").to_pylist()):
            users[user_id] = json.loads(text or "{}")
    return users


def _flatten(splits: dict[str, pa.Table]) -> tuple[list[Interaction], int]:
    rows: dict[str, dict[str, dict]] = {}
    columns = ["user_id", "item_ids", "timestamps", "actions", "values", "scores", "is_target"]
    for split in SPLITS:
        for row in splits[split].select(columns).to_pylist():
            rows.setdefault(row["user_id"], {})[split] = row
    out: list[Interaction] = []
    untargeted = 0
    for user in sorted(rows, key=natural_key):
        by_split = rows[user]
        full = max(by_split.values(), key=lambda r: len(r["item_ids"]))
        for position in range(len(full["item_ids"])):
            split = next((s for s in SPLITS if s in by_split and position < len(by_split[s]["is_target"])
                          and by_split[s]["is_target"][position]), None)
            if split is None:
                untargeted += 1
                split = "train"
            out.append(Interaction(user, full["item_ids"][position], int(full["timestamps"][position]),
                                   full["actions"][position], _float(full["values"][position]), split,
                                   _float(full["scores"][position])))
    return out, untargeted


def _float(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _items(table: pa.Table) -> tuple[dict[str, Item], dict[str, dict[str, list[float] | None]]]:
    items = {}
    for row in table.select(["item_id", "title", "year", "classes"]).to_pylist():
        items[row["item_id"]] = Item(row["item_id"], row["title"] or "", row["year"], list(row["classes"] or []))
    embeddings = {}
    ids = table.column("item_id").to_pylist()
    for modality in ("text", "image", "video", "audio"):
        column = f"{modality}_emb"
        if column in table.column_names and table[column].null_count < table.num_rows:
            embeddings[modality] = dict(zip(ids, table.column(column).to_pylist()))
    return items, embeddings
