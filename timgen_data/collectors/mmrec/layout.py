"""Parsing the MMRec layout: pure reads of the files into arrays and id mappings.

The layout is what ``timgen_data.build.export.mmrec`` writes and what the toolbox's own
preprocessing produces: ``<name>.inter`` (tab-separated, ``userID itemID rating timestamp
x_label``), ``u_id_mapping.csv`` / ``i_id_mapping.csv`` (original id → remapped int; the
toolbox writes ``asin`` for items and some copies are comma-separated) and
``image_feat.npy`` / ``text_feat.npy`` rows in ``itemID`` order.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from timgen_data.errors import ConfigError, MalformedInputError

INTER_HEADER = ["userID", "itemID", "rating", "timestamp", "x_label"]
MAPPINGS = {"u_id_mapping.csv": (("user_id",), "userID"), "i_id_mapping.csv": (("item_id", "asin"), "itemID")}
FEATURES = {"image": "image_feat.npy", "text": "text_feat.npy"}
SPLITS = {0: "train", 1: "validation", 2: "test"}


@dataclass
class MmrecLayout:
    name: str
    inter: pd.DataFrame  # userID, itemID (int), rating (float), timestamp (raw), x_label (int)
    users: dict[int, str]  # remapped int -> original id
    items: dict[int, str]
    mapped: dict[str, bool]  # "users"/"items": whether a mapping file gave the original ids
    features: dict[str, np.ndarray] = field(default_factory=dict)  # modality -> [num_items, dim]


def read_inter(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ConfigError(f"{path} not found: an MMRec folder holds <name>.inter; pass --name if it differs "
                          "from the folder name")
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
    if header != INTER_HEADER:
        raise ConfigError(f"{path}: header {header} differs from the MMRec one {INTER_HEADER} (tab-separated)")
    frame = pd.read_csv(path, sep="\t", dtype={"userID": "int64", "itemID": "int64", "rating": "float64",
                                               "x_label": "int64"})
    unknown = sorted(set(frame["x_label"].unique()) - set(SPLITS))
    if unknown:
        raise MalformedInputError(f"{path}: x_label must be 0, 1 or 2 (train, validation, test); found {unknown}")
    return frame


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
    inter = read_inter(folder / f"{name}.inter")
    maps, mapped = {}, {}
    for (filename, (originals, remapped)), which, column in zip(MAPPINGS.items(), ("users", "items"),
                                                              ("userID", "itemID")):
        mapping = read_mapping(folder / filename, originals, remapped)
        mapped[which] = mapping is not None
        ids = sorted(set(inter[column].tolist()))
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
    return MmrecLayout(name, inter, maps["users"], maps["items"], mapped, features)
