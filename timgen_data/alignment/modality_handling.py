"""How alignment handles each modality: how a fetched file is probed and decoded, which
classic encoder reads it, and which kind of input a Hugging Face model gets.

Built on the ground floor's table (``timgen_data.modalities``: names, MIME types, metadata
keys); fetching, the features stage and the encoders read this one instead of branching on
modality names, so a new modality is a row here, not a branch in each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from timgen_data.alignment.decode import MediaInfo, decode_image, load_audio, read_text, sample_video_frames
from timgen_data.alignment.encoders.base import Encoder
from timgen_data.alignment.encoders.classic import (
    ClassicAudioEncoder,
    ClassicImageEncoder,
    ClassicTextEncoder,
    ClassicVideoEncoder,
)
from timgen_data.alignment.probe import probe_audio, probe_image, probe_nothing, probe_video
from timgen_data.errors import EncoderError
from timgen_data.modalities import MODALITIES, MODALITY_TABLE, Modality

__all__ = ["HF_INPUT_KINDS", "MODALITY_HANDLING", "ModalityHandling", "decode_asset", "probe_media"]

MAX_TEXT_CHARS = 20_000
VIDEO_FRAMES, VIDEO_SIZE = 8, 224
AUDIO_SECONDS = 30.0
# What a Hugging Face model may read (encoders.hf): each picks its processor, batching and pooling.
HF_INPUT_KINDS = ("text", "image", "video", "audio")


@dataclass(frozen=True)
class ModalityHandling:
    modality: Modality
    # A stored file (and the frame size the encoder asks for, which only video uses) to the
    # encoder's input, of the type encoders.base lists; raises DecodeError.
    decode: Callable[[Path, int], Any]
    probe: Callable[[Path], MediaInfo]  # header facts at fetch time; may raise anything
    classic_encoder: Callable[[], Encoder]  # the weight-free default
    hf_input: str  # one of HF_INPUT_KINDS


MODALITY_HANDLING: dict[str, ModalityHandling] = {h.modality.name: h for h in (
    ModalityHandling(MODALITY_TABLE["text"], lambda path, _size: read_text(path, max_chars=MAX_TEXT_CHARS),
                     probe_nothing, ClassicTextEncoder, "text"),
    ModalityHandling(MODALITY_TABLE["image"], lambda path, _size: decode_image(path)[0],
                     probe_image, ClassicImageEncoder, "image"),
    ModalityHandling(MODALITY_TABLE["video"],
                     lambda path, size: sample_video_frames(path, frames=VIDEO_FRAMES, size=size)[0],
                     probe_video, ClassicVideoEncoder, "video"),
    ModalityHandling(MODALITY_TABLE["audio"], lambda path, _size: load_audio(path, max_seconds=AUDIO_SECONDS)[0],
                     probe_audio, ClassicAudioEncoder, "audio"),
)}

if set(MODALITY_HANDLING) != set(MODALITIES):  # a row per modality, no more
    raise ImportError(f"alignment handles {sorted(MODALITY_HANDLING)}, the modalities are {sorted(MODALITIES)}")


def _handling(modality: str) -> ModalityHandling:
    try:
        return MODALITY_HANDLING[modality]
    except (KeyError, TypeError):
        raise ValueError(f"unknown modality {modality}") from None


def decode_asset(path: Path, modality: str, *, frame_size: int = VIDEO_SIZE) -> Any:
    """The encoder input for one stored file (see encoders.base for the types)."""
    return _handling(modality).decode(path, frame_size)


def probe_media(path: Path, modality: str) -> MediaInfo:
    """Header facts about a stored file; empty facts where it cannot be read."""
    probe = _handling(modality).probe
    try:
        return probe(path)
    except Exception:  # noqa: BLE001 - probing is best effort; decoding reports real problems later
        return MediaInfo()


def classic_encoder(modality: str) -> Encoder:
    """The classic encoder for a modality, with default settings, as the table names it."""
    try:
        make = MODALITY_HANDLING[modality].classic_encoder
    except (KeyError, TypeError):
        raise EncoderError(
            f"no classic encoder for modality {modality!r}; valid modalities: {', '.join(MODALITY_HANDLING)}"
        ) from None
    return make()
