"""The MMRec toolbox layout: one ``.inter`` with ``x_label``, id mappings and feature arrays.

MMRec expects 0-based contiguous ``userID`` / ``itemID`` and the split as ``x_label``
(0 train, 1 validation, 2 test). Only items that occur in an interaction get an id, because
MMRec sizes its item tables from the interactions; ``image_feat.npy`` / ``text_feat.npy``
rows follow ``itemID`` order, with zeros where an item has no vector.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from timgen_data.build.export.history import FlatDataset, natural_key
from timgen_data.build.export.recbole import clean, number

X_LABEL = {"train": 0, "validation": 1, "test": 2}
FEATURES = {"image": "image_feat.npy", "text": "text_feat.npy"}


def remap(ids: set[str]) -> dict[str, int]:
    return {original: index for index, original in enumerate(sorted(ids, key=natural_key))}


def _write_mapping(path: Path, mapping: dict[str, int], header: tuple[str, str]) -> None:
    # The toolbox's own preprocessing writes tab-separated "user_id\tuserID" / "asin\titemID".
    lines = ["\t".join(header)] + [f"{clean(k)}\t{v}" for k, v in mapping.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_mmrec(data: FlatDataset, folder: Path, name: str) -> tuple[list[Path], dict[str, int]]:
    """Write the MMRec files of ``data`` into ``folder``.

    Returns the files written and, per exported modality, how many items had no vector.
    """
    users = remap({r.user_id for r in data.interactions})
    items = remap({r.item_id for r in data.interactions})
    lines = ["userID\titemID\trating\ttimestamp\tx_label"]
    for r in data.interactions:
        lines.append(f"{users[r.user_id]}\t{items[r.item_id]}\t{number(r.value)}\t{r.timestamp}\t{X_LABEL[r.split]}")
    inter = folder / f"{name}.inter"
    inter.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written = [inter, folder / "u_id_mapping.csv", folder / "i_id_mapping.csv"]
    _write_mapping(written[1], users, ("user_id", "userID"))
    _write_mapping(written[2], items, ("item_id", "itemID"))
    missing: dict[str, int] = {}
    for modality, filename in FEATURES.items():
        vectors = data.embeddings.get(modality)
        if not vectors:
            continue
        dim = len(next(v for v in vectors.values() if v is not None))
        matrix = np.zeros((len(items), dim), dtype=np.float32)
        missing[modality] = 0
        for item_id, row in items.items():
            vector = vectors.get(item_id)
            if vector is None:
                missing[modality] += 1
            else:
                matrix[row] = np.asarray(vector, dtype=np.float32)
        np.save(folder / filename, matrix)
        written.append(folder / filename)
    return written, missing
