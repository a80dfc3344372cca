"""Store → Hugging Face dataset: sequences, filters, splits, card, Parquet, publishing."""

from timgen_contract import MODALITIES
from timgen_contract.features import INTERACTIONS_FEATURES, ITEMS_FEATURES
from timgen_data.dataset.dataset import BuildOptions, BuildResult, build_dataset
from timgen_data.dataset.filters import k_core, min_interactions
from timgen_data.dataset.splits import leave_last_out, time_split

__all__ = [
    "BuildOptions", "BuildResult", "INTERACTIONS_FEATURES", "ITEMS_FEATURES", "MODALITIES", "build_dataset",
    "k_core", "leave_last_out", "min_interactions", "time_split",
]
