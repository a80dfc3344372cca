"""The dataset contract: what ``timgen-data build`` writes and ``timgen_model`` reads.

Both sides import this one definition, so the producer and the consumer cannot drift
apart, and neither has to import the other. It needs pyarrow alone: the model opens a
local dataset without importing ``datasets`` (slow to import); the Hugging Face
``Features`` view of the same schemas is :mod:`timgen_contract.features`.
"""

from timgen_contract.schema import (
    EMBEDDING_COLUMNS,
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    MODALITIES,
    OPTIONAL_COLUMNS,
    REQUIRED_INTERACTION_COLUMNS,
    REQUIRED_ITEM_COLUMNS,
    SCENARIOS,
    SPLITS,
    embedding_column,
    missing_columns_problem,
)
from timgen_contract.version import FORMAT_VERSION, OLDEST_READABLE_VERSION, recorded_version, version_problem

__all__ = [
    "EMBEDDING_COLUMNS", "FORMAT_VERSION", "INTERACTIONS_SCHEMA", "ITEMS_SCHEMA", "MODALITIES",
    "OLDEST_READABLE_VERSION", "OPTIONAL_COLUMNS", "REQUIRED_INTERACTION_COLUMNS", "REQUIRED_ITEM_COLUMNS", "SCENARIOS",
    "SPLITS",
    "embedding_column", "missing_columns_problem", "recorded_version", "version_problem",
]
