"""The contract's schemas as Hugging Face ``Features``, for the Parquet files' metadata.

Build stores them in every shard so that ``load_dataset`` restores exactly these types.
Importing this module imports ``datasets`` (slow), which readers of local folders need not.
"""

from __future__ import annotations

import json

import pyarrow as pa
from datasets import Features

from timgen_contract.schema import INTERACTIONS_SCHEMA, ITEMS_SCHEMA

INTERACTIONS_FEATURES = Features.from_arrow_schema(INTERACTIONS_SCHEMA)
ITEMS_FEATURES = Features.from_arrow_schema(ITEMS_SCHEMA)


def arrow_schema(features: Features) -> pa.Schema:
    """The pyarrow schema of ``features`` with the HF metadata ``load_dataset`` reads back."""
    schema = features.arrow_schema
    metadata = {b"huggingface": json.dumps({"info": {"features": features.to_dict()}}).encode()}
    return schema.with_metadata(metadata)
