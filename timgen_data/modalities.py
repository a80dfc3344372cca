"""The modalities an item's content comes in, as every stage names them.

Collectors plan assets per modality, alignment fetches, decodes and encodes them, and the
dataset has one vector column per modality, so the names stand below every stage. The
names and the vector columns are the dataset contract's (``timgen_contract``, which the
model reads without this package); this table adds what the producer needs to know about
each: which sniffed MIME types may stand for it, and which item attributes hold its URLs.
How alignment decodes and encodes a modality is alignment's own table
(``timgen_data.alignment.modality_handling``), built on this one.

Adding a modality: a name in ``timgen_contract.MODALITIES``, a row here, a row in
alignment's table.
"""

from __future__ import annotations

from dataclasses import dataclass

from timgen_contract import MODALITIES, embedding_column

__all__ = ["MODALITIES", "MODALITY_TABLE", "Modality"]


@dataclass(frozen=True)
class Modality:
    name: str
    mime_prefixes: tuple[str, ...]  # a sniffed MIME type starting with one of these fits the modality
    # Whole MIME types that fit as well although their prefix says otherwise (see audio).
    also_fits: tuple[str, ...]
    # Item attribute keys that hold a media URL (or a list of them), across collectors.
    metadata_keys: tuple[str, ...]

    @property
    def embedding_column(self) -> str:
        """The dataset's ``items`` column for this modality's vectors, e.g. ``image_emb``."""
        return embedding_column(self.name)


MODALITY_TABLE: dict[str, Modality] = {m.name: m for m in (
    Modality("text", ("text/",), (), ("text_url", "description_url")),
    Modality("image", ("image/",), (),
             ("image_url", "poster_url", "poster", "image", "images", "thumbnail_url", "thumbnails")),
    Modality("video", ("video/",), (), ("video_url", "trailer_url", "trailer", "videos")),
    # Containers filetype reports as video that often hold nothing but audio: YouTube's DASH
    # m4a ("dash" brand) sniffs as video/mp4, its opus audio as video/webm. Whether a track
    # really is there is for the decoder to find out; the reverse (audio/* as video) never fits.
    Modality("audio", ("audio/",), ("video/mp4", "video/webm", "video/x-matroska"), ("audio_url", "audio")),
)}

if tuple(MODALITY_TABLE) != MODALITIES:  # a row per contract name, in the contract's order
    raise ImportError(f"timgen_data.modalities lists {tuple(MODALITY_TABLE)}, the dataset contract {MODALITIES}")
