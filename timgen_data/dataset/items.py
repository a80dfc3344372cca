"""The items of a build: catalog fields and, per modality, one encoder's vectors."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from timgen_contract import MODALITIES
from timgen_data.dataset.sequences import natural_key
from timgen_data.store.query import fetch_frame, fetch_rows, in_clause


@dataclass
class ItemCatalog:
    items: pd.DataFrame  # item_id, title, text, class, classes, year
    embeddings: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    encoders: dict[str, dict[str, object]] = field(default_factory=dict)  # modality -> {encoder, dim, items}


def load_items(conn: Connection, sources: list[str], item_ids: set[str], *, prefixed: bool) -> ItemCatalog:
    """Catalog rows and embeddings for ``item_ids`` (as they appear in the dataset)."""
    marks, params = in_clause("s", sources)
    frame = fetch_frame(
        conn,
        f"SELECT source, external_id, title, text, year, category, categories FROM items WHERE source IN ({marks})",
        ["source", "external_id", "title", "text", "year", "class", "classes"],
        params,
    )
    frame["item_id"] = (frame["source"] + ":" + frame["external_id"]) if prefixed else frame["external_id"]
    frame = frame[frame["item_id"].isin(item_ids)]
    frame = frame.assign(_key=natural_key(frame["item_id"])).sort_values("_key", kind="mergesort")
    frame["classes"] = [json.loads(c) for c in frame["classes"]]
    items = frame[["item_id", "title", "text", "class", "classes", "year"]].reset_index(drop=True)
    catalog = ItemCatalog(items)
    _load_embeddings(conn, sources, set(items["item_id"]), prefixed, catalog)
    return catalog


def _load_embeddings(conn, sources, item_ids, prefixed, catalog: ItemCatalog) -> None:
    marks, params = in_clause("s", sources)
    rows = fetch_rows(
        conn,
        "SELECT it.source, it.external_id, a.modality, f.encoder, f.dim, f.vector "
        "FROM features f JOIN assets a ON a.id = f.asset_id JOIN items it ON it.id = a.item_id "
        f"WHERE it.source IN ({marks}) ORDER BY it.id, a.id",
        params,
    )
    for modality in MODALITIES:
        candidates = [r for r in rows if r[2] == modality]
        if not candidates:
            continue
        # One encoder per modality so every vector has the same meaning: the one
        # covering most items (name breaks ties, for a deterministic choice).
        counts = Counter(r[3] for r in candidates)
        encoder = min(counts, key=lambda e: (-counts[e], e))
        vectors: dict[str, list[float]] = {}
        dim = None
        for source, external_id, _m, enc, enc_dim, blob in candidates:
            item_id = f"{source}:{external_id}" if prefixed else external_id
            if enc == encoder and item_id in item_ids and item_id not in vectors:
                vectors[item_id] = np.frombuffer(blob, dtype=np.float32).tolist()
                dim = enc_dim
        catalog.embeddings[modality] = vectors
        catalog.encoders[modality] = {"encoder": encoder, "dim": dim, "items": len(vectors)}
