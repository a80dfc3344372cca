"""The modality table: one row per contract modality, and what sniffing and asset planning read from it."""

from __future__ import annotations

import timgen_contract
from timgen_data.alignment.sniff import fits_modality
from timgen_data.modalities import MODALITIES, MODALITY_TABLE


def test_one_row_per_contract_modality_in_the_contracts_order():
    assert tuple(MODALITY_TABLE) == MODALITIES == timgen_contract.MODALITIES
    assert [m.embedding_column for m in MODALITY_TABLE.values()] == list(timgen_contract.EMBEDDING_COLUMNS)


def test_items_schema_has_a_vector_column_per_modality():
    names = timgen_contract.ITEMS_SCHEMA.names
    assert names[-len(MODALITIES):] == [timgen_contract.embedding_column(m) for m in MODALITIES]
    assert set(timgen_contract.EMBEDDING_COLUMNS) <= timgen_contract.OPTIONAL_COLUMNS


def test_sniffed_types_fit_by_the_tables_prefixes_and_extra_types():
    for modality in MODALITIES:
        for prefix in MODALITY_TABLE[modality].mime_prefixes:
            assert fits_modality(prefix + "x-anything", modality)
    # Audio-only DASH tracks sniff as video containers; a video is never taken for audio's sake.
    assert fits_modality("video/webm", "audio") and fits_modality("video/webm", "video")
    assert not fits_modality("audio/mpeg", "video") and not fits_modality("image/png", "text")


def test_metadata_keys_belong_to_one_modality_each():
    keys = [key for m in MODALITY_TABLE.values() for key in m.metadata_keys]
    assert len(keys) == len(set(keys))
