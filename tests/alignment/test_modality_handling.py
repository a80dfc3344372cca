"""Alignment's modality table: every modality has a decoder, a probe, a classic encoder and an hf input kind."""

from __future__ import annotations

import pytest

from timgen_data.alignment.decode import MediaInfo
from timgen_data.alignment.encoders import get_encoder
from timgen_data.alignment.modality_handling import HF_INPUT_KINDS, MODALITY_HANDLING, decode_asset, probe_media
from timgen_data.errors import DecodeError
from timgen_data.modalities import MODALITIES


def test_every_modality_is_handled():
    assert list(MODALITY_HANDLING) == list(MODALITIES)
    for name, handling in MODALITY_HANDLING.items():
        assert handling.modality.name == name
        assert handling.hf_input in HF_INPUT_KINDS
        assert handling.classic_encoder().modality == name
        assert get_encoder("classic", name).name == f"classic:{name}"


def test_decode_reads_the_tables_decoder(tmp_path):
    path = tmp_path / "plot.txt"
    path.write_text("a story about a ship", encoding="utf-8")
    assert decode_asset(path, "text") == "a story about a ship"
    with pytest.raises(DecodeError):
        decode_asset(path, "image")
    with pytest.raises(ValueError, match="unknown modality smell"):
        decode_asset(path, "smell")


@pytest.mark.parametrize("modality", ["text", "image", "audio"])
def test_probing_unreadable_bytes_gives_empty_facts(tmp_path, modality):
    path = tmp_path / "noise.bin"
    path.write_bytes(b"\x00\x01 not media")
    assert probe_media(path, modality) == MediaInfo()


def test_probing_never_raises(tmp_path):
    path = tmp_path / "noise.bin"
    path.write_bytes(b"\x00\x01 not media")
    assert probe_media(path, "video").duration is None
