"""Texts into vectors with a pretrained Hugging Face text model, pooled as the model prescribes.

:class:`TextEncoder` loads a model named as ``align features`` names it (``hf:`` followed by
a local ``save_pretrained`` folder, a packaged model's alias such as ``all-minilm-l6-v2``, or
a Hub id), pools its token vectors as :mod:`timgen_common.text_pooling` reads from the model
(a sentence-transformers folder's own pooling, else [CLS]) and encodes in batches of similar
lengths. A vector depends only on its own text, never on what else shares its batch: every
batch is padded and masked.

On the ground floor: the aligning stage encodes item text with it, and the model the texts
users wrote (``model.review_encoder``), so both give the very same vector for the same text.

>>> encoder = load_text_encoder("hf:all-minilm-l6-v2")  # doctest: +SKIP
>>> encoder.key, encoder.encode(["a great film"]).shape  # doctest: +SKIP
('hf:all-minilm-l6-v2#mean+normalize@…', (1, 384))
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from timgen_common.errors import EncoderError, TimgenError
from timgen_common.hf_models import (
    check_input_kind, hidden_size, load_config, load_weights, locate_model, quiet_loading, token_limit,
)
from timgen_common.text_pooling import read_text_pooling

__all__ = ["TextEncoder", "load_text_encoder"]


class TextEncoder:
    """A Hugging Face text model and its pooling: ``encode(texts)`` → float32 [len(texts), dim].

    ``name`` (``hf:<alias or folder>#<pooling>``) and ``version`` are those ``align features``
    stores with every vector; ``modality`` only words the error for a model of another kind.
    """

    def __init__(self, ref: str, *, device: str | None = None, batch_size: int = 16, max_tokens: int = 256,
                 revision: str | None = None, modality: str = "text") -> None:
        import torch
        import transformers as tf

        if batch_size < 1:
            raise EncoderError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self._device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        location = locate_model(ref, revision)
        with quiet_loading():
            config = load_config(location)
            check_input_kind(config, ref, "text", modality)
            dim = hidden_size(config, ref)
            self.pooling = read_text_pooling(location.source, ref, **location.kwargs)
            try:
                self._tokenizer = tf.AutoTokenizer.from_pretrained(location.source, **location.kwargs)
            except Exception as exc:  # a missing file, or a backend not installed
                raise location.unloadable("processor", exc) from exc
            self._model = load_weights(location).to(self._device)
        self.dim = dim * len(self.pooling.modes)
        self.name = f"{location.name}#{self.pooling.label}"
        self.version = location.version(config)
        self._max_tokens = token_limit(max_tokens, getattr(config, "max_position_embeddings", None),
                                       self.pooling.max_tokens, getattr(self._tokenizer, "model_max_length", None))

    @property
    def key(self) -> str:
        """Name and version, as the features table keys a vector."""
        return f"{self.name}@{self.version}"

    def encode(self, texts: Sequence[Any]) -> np.ndarray:
        """[len(texts), dim] float32; row i encodes texts[i] alone, whatever its batch."""
        import torch

        items = list(texts)
        out = np.zeros((len(items), self.dim), np.float32)
        if not items:
            return out
        autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self._device.startswith("cuda")
                    else contextlib.nullcontext())
        with torch.inference_mode(), autocast:
            for rows, batch, mask in self._batches(items):
                batch = {k: v.to(self._device) for k, v in batch.items()}
                states = self._model(**batch).last_hidden_state
                out[rows] = self.pooling.pool(states, mask.to(states.device)).float().cpu().numpy()
        if not np.isfinite(out).all():
            raise TimgenError(f"{self.name} produced non-finite vectors; try device='cpu' or a float32 run")
        return out

    def _batches(self, items: list[Any]) -> Iterator[tuple[list[int], dict[str, Any], Any]]:
        import torch

        lower = self.pooling.lower_case
        texts = [str(t).lower() if lower else str(t) for t in items]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            enc = self._tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                  max_length=self._max_tokens, return_tensors="pt")
            mask = enc.get("attention_mask")
            yield rows, dict(enc), mask if mask is not None else torch.ones_like(enc["input_ids"])


def load_text_encoder(spec: str, *, device: str | None = None, batch_size: int = 16) -> TextEncoder:
    """The text encoder ``spec`` names: ``hf:<folder, packaged alias or Hub id>``."""
    if not (spec.startswith("hf:") and len(spec) > 3):
        raise EncoderError(f"unknown text encoder {spec!r}: use 'hf:<model id or local folder>' "
                           "(e.g. hf:all-minilm-l6-v2 offline)")
    return TextEncoder(spec[3:], device=device, batch_size=batch_size)
