"""What a file is, from its first bytes: URLs, extensions and Content-Type headers lie.

``sniff`` asks ``filetype`` (magic numbers) and falls back to "plain UTF-8 text" for
bytes that decode and hold no NUL. ``fits_modality`` says whether such bytes may stand
for an asset of a modality.
"""

from __future__ import annotations

import codecs

import filetype

from timgen_data.modalities import MODALITIES, MODALITY_TABLE

SNIFF_BYTES = 8192  # as many as filetype ever looks at


def sniff(head: bytes) -> tuple[str | None, str | None]:
    """(mime, extension) of the bytes that start ``head``; (None, None) if unknown."""
    head = bytes(head[:SNIFF_BYTES])
    if not head:
        return None, None
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime, kind.extension
    if b"\x00" not in head:
        try:
            # final=False: the head may end in the middle of a multi-byte character.
            codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            return None, None
        return "text/plain", "txt"
    return None, None


def fits_modality(mime: str | None, modality: str) -> bool:
    """Whether bytes of type ``mime`` may be an asset of ``modality``."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}; expected one of {', '.join(MODALITIES)}")
    if mime is None:
        return False
    fits = MODALITY_TABLE[modality]
    return mime.startswith(fits.mime_prefixes) or mime in fits.also_fits
