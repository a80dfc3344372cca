"""What every encoder is: a named, versioned function from a batch of decoded inputs of one
modality to a float32 matrix, one row per input.

Inputs per modality (what ``timgen_data.alignment.decode`` produces):

- text: ``str``
- image: ``np.ndarray`` [H, W, 3] uint8 RGB
- video: ``np.ndarray`` [F, H, W, 3] uint8 RGB, frames sampled uniformly over the clip
- audio: ``np.ndarray`` [S] float32 mono at ``AUDIO_SAMPLE_RATE``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from timgen_data.modalities import MODALITIES

AUDIO_SAMPLE_RATE = 16_000


@runtime_checkable
class Encoder(Protocol):
    modality: str  # one of MODALITIES
    name: str  # what the features table stores, e.g. "classic:image" or "hf:google/vit-base-patch16-224"
    version: str  # changes whenever the same input would give a different vector
    dim: int

    def encode(self, inputs: Sequence[Any]) -> np.ndarray:
        """[len(inputs), dim] float32; row i encodes inputs[i]."""
        ...


def encoder_key(encoder: Encoder) -> str:
    """The features-table key: name and version, so a new version never reuses old vectors."""
    return f"{encoder.name}@{encoder.version}"
