"""Text pooling as each model prescribes: kept in ``timgen_common.text_pooling``, which the
model's review-text encoder shares with the aligning stage."""

from timgen_common.text_pooling import CLS_POOLING, SUPPORTED_MODES, TextPooling, read_text_pooling

__all__ = ["CLS_POOLING", "SUPPORTED_MODES", "TextPooling", "read_text_pooling"]
