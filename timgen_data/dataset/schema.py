"""The dataset contract: column types of the ``interactions`` and ``items`` configs.

Kept as both a pyarrow schema (what is written) and Hugging Face ``Features`` (stored in
the Parquet metadata so ``load_dataset`` restores exactly these types).
"""

from __future__ import annotations

import json

import pyarrow as pa
from datasets import Features, List, Value

DATASET_FORMAT_VERSION = 1
MODALITIES = ("text", "image", "video", "audio")

INTERACTIONS_FEATURES = Features(
    {
        "user_id": Value("string"),
        "item_ids": List(Value("string")),
        "timestamps": List(Value("int64")),
        "actions": List(Value("string")),
        "devices": List(Value("string")),
        "platforms": List(Value("string")),
        "geos": List(Value("string")),
        "scores": List(Value("float32")),
        "classes": List(Value("string")),
        "values": List(Value("float32")),
        "texts": List(Value("string")),
        "is_target": List(Value("bool")),
    }
)

ITEMS_FEATURES = Features(
    {
        "item_id": Value("string"),
        "title": Value("string"),
        "text": Value("string"),
        "class": Value("string"),
        "classes": List(Value("string")),
        "year": Value("int32"),
        **{f"{m}_emb": List(Value("float32")) for m in MODALITIES},
    }
)


def arrow_schema(features: Features) -> pa.Schema:
    """The pyarrow schema of ``features`` with the HF metadata ``load_dataset`` reads back."""
    schema = features.arrow_schema
    metadata = {b"huggingface": json.dumps({"info": {"features": features.to_dict()}}).encode()}
    return schema.with_metadata(metadata)
