"""Parsing the MMRec layout: pure reads of the files into arrays and id mappings.

The layout is what ``timgen_data.dataset.export.mmrec`` writes and what the toolbox's own
preprocessing produces: ``<name>.inter`` (tab-separated, ``userID itemID rating timestamp
x_label``), ``u_id_mapping.csv`` / ``i_id_mapping.csv`` (original id → remapped int; the
toolbox writes ``asin`` for items and some copies are comma-separated) and
``image_feat.npy`` / ``text_feat.npy`` rows in ``itemID`` order.

``<name>.inter`` holds every interaction, so it is never read whole: a first pass
(:func:`scan_inter`) keeps only what grows with users and items (their ids) and what the
whole column of times decides (its type, its largest value), and the store reads it
again in chunks (:func:`read_inter_chunks`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from timgen_data.errors import ConfigError, MalformedInputError

INTER_HEADER = ["userID", "itemID", "rating", "timestamp", "x_label"]
MAPPINGS = {"u_id_mapping.csv": (("user_id",), "userID"), "i_id_mapping.csv": (("item_id", "asin"), "itemID")}
FEATURES = {"image": "image_feat.npy", "text": "text_feat.npy"}
SPLITS = {0: "train", 1: "validation", 2: "test"}


INTER_DTYPES = {"userID": "int64", "itemID": "int64", "rating": "float64", "x_label": "int64"}
CHUNK_ROWS = 200_000


@dataclass
class InterSummary:
    """What one pass over ``<name>.inter`` found; the interactions themselves are not kept."""

    rows: int
    user_ids: list[int]  # distinct remapped ids, sorted
    item_ids: list[int]
    # The type the whole timestamp column reads as, and its value of largest magnitude: the
    # epoch unit is decided from it, for every chunk alike.
    timestamp_dtype: str
    largest_timestamp: Any


@dataclass
class MmrecLayout:
    name: str
    inter_path: Path
    inter: InterSummary
    users: dict[int, str]  # remapped int -> original id
    items: dict[int, str]
    mapped: dict[str, bool]  # "users"/"items": whether a mapping file gave the original ids
    features: dict[str, np.ndarray] = field(default_factory=dict)  # modality -> [num_items, dim]


def _check_header(path: Path) -> None:
    if not path.is_file():
        raise ConfigError(f"{path} not found: an MMRec folder holds <name>.inter; pass --name if it differs "
                          "from the folder name")
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
    if header != INTER_HEADER:
        raise ConfigError(f"{path}: header {header} differs from the MMRec one {INTER_HEADER} (tab-separated)")


def read_inter_chunks(path: Path, *, timestamp_dtype: str | None = None,
                      chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """``<name>.inter`` in frames of at most ``chunk_rows`` rows, in file order."""
    dtypes = dict(INTER_DTYPES, **({"timestamp": timestamp_dtype} if timestamp_dtype else {}))
    with pd.read_csv(path, sep="\t", dtype=dtypes, chunksize=chunk_rows) as reader:
        yield from reader


def scan_inter(path: Path, *, chunk_rows: int = CHUNK_ROWS) -> InterSummary:
    """Check ``<name>.inter`` (header, split labels) and summarise it, one chunk at a time."""
    _check_header(path)
    rows, users, items, labels = 0, set(), set(), set()
    kinds: set[str] = set()
    largest, largest_magnitude = None, -1.0
    for chunk in read_inter_chunks(path, chunk_rows=chunk_rows):
        rows += len(chunk)
        users.update(chunk["userID"].unique().tolist())
        items.update(chunk["itemID"].unique().tolist())
        labels.update(chunk["x_label"].unique().tolist())
        ts = chunk["timestamp"]
        kinds.add(ts.dtype.kind)
        numbers = pd.to_numeric(ts, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        magnitude = np.abs(numbers)
        magnitude[~np.isfinite(magnitude)] = -1.0
        if magnitude.size and magnitude.max() > largest_magnitude:
            at = int(magnitude.argmax())  # the first of the largest, as over the whole column
            largest_magnitude, largest = float(magnitude[at]), ts.iloc[at]
    unknown = sorted(labels - set(SPLITS))
    if unknown:
        raise MalformedInputError(f"{path}: x_label must be 0, 1 or 2 (train, validation, test); found {unknown}")
    # As pandas reads a whole column: text if any chunk is, else floats if any chunk is.
    dtype = "object" if kinds - {"i", "u", "f", "b"} else "float64" if "f" in kinds else "int64"
    if dtype == "object":
        largest = None if largest is None else str(largest)
    elif largest is not None:
        largest = float(largest) if dtype == "float64" else int(largest)
    return InterSummary(rows, sorted(users), sorted(items), dtype, largest)


def read_mapping(path: Path, original_names: tuple[str, ...], remapped_name: str) -> dict[int, str] | None:
    """``remapped int -> original id``, or None when the file is absent."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    header = [h.strip() for h in rows[0]] if rows else []
    original = next((n for n in original_names if n in header), None)
    if original is None or remapped_name not in header:
        raise ConfigError(f"{path}: header {header} should name {' or '.join(original_names)} and {remapped_name}")
    oi, ri = header.index(original), header.index(remapped_name)
    return {int(row[ri]): row[oi] for row in rows[1:] if row}


def read_layout(folder: Path, name: str | None = None) -> MmrecLayout:
    folder = Path(folder)
    name = name or folder.name
    inter_path = folder / f"{name}.inter"
    inter = scan_inter(inter_path)
    maps, mapped = {}, {}
    for (filename, (originals, remapped)), which, column, ids in zip(
            MAPPINGS.items(), ("users", "items"), ("userID", "itemID"), (inter.user_ids, inter.item_ids)):
        mapping = read_mapping(folder / filename, originals, remapped)
        mapped[which] = mapping is not None
        if mapping is None:
            mapping = {i: str(i) for i in ids}
        missing = [i for i in ids if i not in mapping]
        if missing:
            raise MalformedInputError(f"{folder / filename}: {column} {missing[:5]} of {name}.inter have no mapping")
        maps[which] = mapping
    features = {}
    for modality, filename in FEATURES.items():
        if (folder / filename).is_file():
            matrix = np.load(folder / filename)
            if matrix.ndim != 2:
                raise MalformedInputError(f"{folder / filename}: expected a [num_items, dim] array, got {matrix.shape}")
            features[modality] = matrix.astype(np.float32, copy=False)
    return MmrecLayout(name, inter_path, inter, maps["users"], maps["items"], mapped, features)
