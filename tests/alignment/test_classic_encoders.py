"""Classic encoders: the Encoder contract (dims, dtype, byte-identical output in any batch)
and that each one carries signal (like inputs closer than unlike ones)."""

from __future__ import annotations

import numpy as np
import pytest

from timgen_data.alignment.encoders.base import AUDIO_SAMPLE_RATE, MODALITIES, Encoder, encoder_key
from timgen_data.alignment.encoders.classic import (
    AUDIO_SPECTRAL_INDEX,
    ClassicAudioEncoder,
    ClassicImageEncoder,
    ClassicTextEncoder,
    ClassicVideoEncoder,
)
from timgen_data.alignment.modality_handling import classic_encoder
from timgen_data.errors import EncoderError

RNG = np.random.default_rng(7)
SR = AUDIO_SAMPLE_RATE


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _solid(rgb, height=60, width=80) -> np.ndarray:
    return np.broadcast_to(np.array(rgb, np.uint8), (height, width, 3)).copy()


def _sine(freq=440.0, seconds=2.0, amplitude=0.5) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * freq * np.arange(int(SR * seconds)) / SR)).astype(np.float32)


def _moving_square(frames=8, size=96) -> np.ndarray:
    video = np.full((frames, size, size, 3), 90, np.uint8)
    for i in range(frames):
        video[i, 30:60, 5 + 8 * i : 35 + 8 * i] = (250, 220, 20)
    return video


SAMPLES = {  # two different inputs per modality
    "text": ["A space alien lands.", "Un café à Paris"],
    "image": [RNG.integers(0, 256, (50, 70, 3), dtype=np.uint8), _solid((200, 30, 30))],
    "video": [_moving_square(), RNG.integers(0, 256, (4, 40, 40, 3), dtype=np.uint8)],
    "audio": [_sine(), RNG.normal(0, 0.2, SR).astype(np.float32)],
}
DIMS = {"text": 256, "image": 151, "video": 162, "audio": 64}


@pytest.mark.parametrize("modality", MODALITIES)
def test_contract_dims_dtype_and_names(modality):
    encoder = classic_encoder(modality)
    assert isinstance(encoder, Encoder)
    assert (encoder.modality, encoder.name, encoder.version, encoder.dim) == (
        modality,
        f"classic:{modality}",
        "1",
        DIMS[modality],
    )
    assert encoder_key(encoder) == f"classic:{modality}@1"
    vectors = encoder.encode(SAMPLES[modality])
    assert vectors.shape == (2, encoder.dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    assert not np.array_equal(vectors[0], vectors[1])
    assert encoder.encode([]).shape == (0, encoder.dim)


@pytest.mark.parametrize("modality", MODALITIES)
def test_same_input_gives_identical_bytes_in_any_batch(modality):
    first, second = SAMPLES[modality]
    alone = classic_encoder(modality).encode([first])
    in_batch = classic_encoder(modality).encode([second, first, first])
    assert alone[0].tobytes() == in_batch[1].tobytes() == in_batch[2].tobytes()


def test_blocks_tile_the_vector():
    for encoder in (ClassicTextEncoder(), ClassicImageEncoder(), ClassicVideoEncoder(), ClassicAudioEncoder()):
        covered = np.concatenate([np.arange(encoder.dim)[s] for s in encoder.blocks.values()])
        np.testing.assert_array_equal(covered, np.arange(encoder.dim))


def test_unknown_modality_names_the_valid_ones():
    with pytest.raises(EncoderError, match="'smell'.*text, image, video, audio"):
        classic_encoder("smell")


def test_wrong_input_shape_is_refused():
    with pytest.raises(ValueError, match=r"image input 0: expected \[H, W, 3\] uint8"):
        ClassicImageEncoder().encode([np.zeros((10, 10), np.uint8)])
    with pytest.raises(ValueError, match=r"video input 0: expected \[F, H, W, 3\] uint8"):
        ClassicVideoEncoder().encode([np.zeros((10, 10, 3), np.uint8)])
    with pytest.raises(TypeError, match="text input 0 is NoneType"):
        ClassicTextEncoder().encode([None])


# --------------------------------------------------------------------------- text


def test_text_similarity_follows_shared_words():
    alien, spaceship, wedding = ClassicTextEncoder().encode(
        ["space alien ship", "alien spaceship in space", "romantic comedy wedding"]
    )
    assert _cosine(alien, spaceship) > _cosine(alien, wedding) + 0.2
    assert np.linalg.norm(alien) == pytest.approx(1.0, abs=1e-6)


def test_text_normalizes_case_and_accents_and_empty_is_zero():
    encoder = ClassicTextEncoder()
    cafe, plain, empty, blank = encoder.encode(["CAFÉ Crème", "cafe creme", "", "   "])
    np.testing.assert_array_equal(cafe, plain)
    assert not empty.any() and not blank.any()


def test_text_width_is_configurable_and_versioned():
    encoder = ClassicTextEncoder(dim=64)
    assert encoder.encode(["hello world"]).shape == (1, 64)
    assert encoder.version != ClassicTextEncoder().version  # never shares a features-table key


# --------------------------------------------------------------------------- images


def test_image_colour_signal():
    red = _solid((220, 20, 20))
    red_textured = red.copy()
    red_textured[10:30, 10:40] = (180, 40, 30)
    blue = _solid((20, 20, 220), 90, 50)
    a, b, c = ClassicImageEncoder().encode([red, red_textured, blue])
    assert _cosine(a, b) > _cosine(a, c) + 0.2


def test_image_texture_signal_and_tiny_images():
    stripes = np.zeros((64, 64, 3), np.uint8)
    stripes[:, ::4] = 255  # vertical lines: strong horizontal gradients
    flat, lines, dot = ClassicImageEncoder().encode([_solid((128, 128, 128), 64, 64), stripes, _solid((9, 9, 9), 1, 1)])
    density = ClassicImageEncoder.blocks["colour_stats"].stop - 1  # edge density is the block's last value
    assert flat[density] == 0 and lines[density] > 0.1
    assert np.isfinite(dot).all()


# --------------------------------------------------------------------------- video


def test_static_video_has_less_motion_than_a_moving_one():
    static = np.repeat(_moving_square()[:1], 8, axis=0)
    still, moving = ClassicVideoEncoder().encode([static, _moving_square()])
    blocks = ClassicVideoEncoder.blocks
    for block in ("frame_difference", "optical_flow"):
        assert not still[blocks[block]].any()
        assert moving[blocks[block]].sum() > 0.01
    # Appearance is about the same: the frames hold the same colours in the same amounts.
    assert _cosine(still[blocks["frame_hsv_histogram"]], moving[blocks["frame_hsv_histogram"]]) > 0.99


def test_single_frame_video_is_finite():
    (row,) = ClassicVideoEncoder().encode([_moving_square(frames=1)])
    assert np.isfinite(row).all() and not row[ClassicVideoEncoder.blocks["optical_flow"]].any()


# --------------------------------------------------------------------------- audio


def test_sine_and_noise_differ_in_spectral_flatness():
    sine, noise = ClassicAudioEncoder().encode([_sine(), RNG.normal(0, 0.3, 2 * SR).astype(np.float32)])
    flatness = AUDIO_SPECTRAL_INDEX["flatness"][0]
    assert sine[flatness] < 0.01
    assert noise[flatness] > 0.1
    assert _cosine(sine, noise) < 0.9


@pytest.mark.parametrize("samples", [np.zeros(SR, np.float32), np.zeros(10, np.float32), np.zeros(0, np.float32)], ids=["silence", "10-samples", "empty"])
def test_silence_and_tiny_clips_are_finite(samples):
    (row,) = ClassicAudioEncoder().encode([samples])
    assert np.isfinite(row).all()
    assert row[AUDIO_SPECTRAL_INDEX["flatness"][0]] == 0  # silence is not "flat like noise"
