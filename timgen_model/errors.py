"""The model package's errors. Each message says what is wrong and how to fix it.

``ModelUsageError`` subclasses mean the request was invalid (the CLI exits 2); the rest
are failures while doing valid work (exit 3).
"""

from __future__ import annotations


class ModelError(Exception):
    """Base class of every error ``timgen_model`` raises on purpose."""


class ModelUsageError(ModelError):
    """The request itself is invalid: a bad config key or value, an unknown user."""


class ModelConfigError(ModelUsageError):
    """A model or training config does not validate."""


class DatasetError(ModelUsageError):
    """The dataset is missing or does not follow the dataset contract."""


class CheckpointError(ModelError):
    """A run folder or checkpoint is missing, incomplete, or from another format version."""
