"""Turning sorted interactions + split rows into Arrow tables of the dataset contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from timgen_data.build.schema import (
    INTERACTIONS_FEATURES,
    ITEMS_FEATURES,
    MODALITIES,
    arrow_schema,
)
from timgen_data.build.sequences import Interactions
from timgen_data.build.splits import SplitRows, slice_positions

# Contract column ← frame column; "" stands for unknown in the context columns.
_LIST_COLUMNS = {
    "item_ids": "item", "timestamps": "ts", "actions": "action", "devices": "device",
    "platforms": "platform", "geos": "geo", "scores": "score", "classes": "class", "values": "value",
    "texts": "text",
}


def contract_arrays(data: Interactions) -> dict[str, pa.Array]:
    """One flat Arrow array per list column, in the sorted order of ``data``."""
    frame = data.frame
    arrays = {}
    for name, column in _LIST_COLUMNS.items():
        kind = INTERACTIONS_FEATURES[name].feature.dtype
        values = frame[column]
        if kind == "string":
            arrays[name] = pa.array(values.fillna("").astype(str).to_numpy(dtype=object), type=pa.string())
        elif kind == "float32":
            arrays[name] = pa.array(values.to_numpy(dtype=np.float32, na_value=np.nan), type=pa.float32())
        else:
            arrays[name] = pa.array(values.to_numpy(dtype=np.int64), type=pa.int64())
    return arrays


def split_table(data: Interactions, arrays: dict[str, pa.Array], rows: SplitRows) -> pa.Table:
    """The ``interactions`` table of one split."""
    positions = pa.array(slice_positions(rows.starts, rows.ends))
    lengths = rows.ends - rows.starts
    offsets = pa.array(np.r_[0, np.cumsum(lengths)].astype(np.int32))
    columns = {"user_id": pa.array(data.users[rows.users].astype(str).tolist(), type=pa.string())}
    for name in INTERACTIONS_FEATURES:
        if name == "user_id":
            continue
        flat = pa.array(rows.is_target) if name == "is_target" else arrays[name].take(positions)
        columns[name] = pa.ListArray.from_arrays(offsets, flat)
    return pa.Table.from_pydict(columns, schema=arrow_schema(INTERACTIONS_FEATURES))


def items_table(items: pd.DataFrame, embeddings: dict[str, dict[str, list[float]]]) -> pa.Table:
    """The ``items`` table; ``embeddings[modality][item_id]`` is a vector (absent → null)."""
    columns = {
        "item_id": items["item_id"].tolist(),
        "title": items["title"].tolist(),
        "text": items["text"].tolist(),
        "class": items["class"].fillna("").tolist(),
        "classes": items["classes"].tolist(),
        "year": [None if pd.isna(y) else int(y) for y in items["year"]],
    }
    for modality in MODALITIES:
        vectors = embeddings.get(modality, {})
        columns[f"{modality}_emb"] = [vectors.get(i) for i in columns["item_id"]]
    return pa.Table.from_pydict(columns, schema=arrow_schema(ITEMS_FEATURES))
