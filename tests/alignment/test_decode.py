"""decode: images, video frames and audio windows from real files written here, and every
way a file can be unreadable turning into DecodeError."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import soundfile
from PIL import Image

from timgen_data.alignment.decode import MediaInfo, decode_image, load_audio, sample_video_frames
from timgen_data.errors import DecodeError

RED, BLUE = (255, 0, 0), (0, 0, 255)


def _red_square_on_blue(width: int = 40, height: int = 30) -> Image.Image:
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 2, height // 2))  # top-left quarter
    return image


# --------------------------------------------------------------------------- images


def test_png_round_trips_exactly_in_rgb_order(tmp_path):
    path = tmp_path / "a.png"
    _red_square_on_blue().save(path)
    pixels, info = decode_image(path)
    assert pixels.shape == (30, 40, 3) and pixels.dtype == np.uint8
    assert tuple(pixels[2, 2]) == RED  # channel 0 is red: not OpenCV's BGR
    assert tuple(pixels[-2, -2]) == BLUE
    assert info == MediaInfo(width=40, height=30)


def test_jpeg_is_downscaled_keeping_aspect_and_reports_original_size(tmp_path):
    path = tmp_path / "big.jpg"
    _red_square_on_blue(800, 400).save(path, quality=95)
    pixels, info = decode_image(path, max_side=100)
    assert pixels.shape == (50, 100, 3)
    assert (info.width, info.height) == (800, 400)
    red, green, blue = (int(v) for v in pixels[5, 5])
    assert red > 200 and green < 40 and blue < 40


def test_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.new("RGB", (40, 20), BLUE).save(path, exif=exif)
    pixels, info = decode_image(path)
    assert pixels.shape == (40, 20, 3)  # portrait, as a viewer shows it
    assert (info.width, info.height) == (20, 40)


@pytest.mark.parametrize(
    ("mode", "make", "expected"),
    [
        ("P", lambda: _red_square_on_blue().convert("P", palette=Image.Palette.ADAPTIVE), RED),
        ("RGBA", lambda: Image.new("RGBA", (40, 30), (255, 0, 0, 255)), RED),
        ("RGBA transparent", lambda: Image.new("RGBA", (40, 30), (0, 0, 0, 0)), (255, 255, 255)),  # onto white
        ("LA", lambda: Image.new("LA", (40, 30), (128, 255)), (128, 128, 128)),
        ("L", lambda: Image.new("L", (40, 30), 200), (200, 200, 200)),
        ("I;16", lambda: Image.fromarray(np.full((30, 40), 32896, dtype=np.uint16)), (128, 128, 128)),
        ("1", lambda: Image.new("1", (40, 30), 1), (255, 255, 255)),
    ],
)
def test_other_modes_convert_to_rgb(tmp_path, mode, make, expected):
    path = tmp_path / "m.png"
    make().save(path)
    pixels, _ = decode_image(path)
    assert pixels.shape == (30, 40, 3) and pixels.dtype == np.uint8
    assert tuple(int(v) for v in pixels[2, 2]) == expected


def test_transparent_palette_is_composited(tmp_path):
    path = tmp_path / "t.gif"
    image = Image.new("P", (10, 10), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 5, 10))
    image.save(path, transparency=0)
    pixels, _ = decode_image(path)
    assert tuple(pixels[5, 2]) == RED and tuple(pixels[5, 8]) == (255, 255, 255)


def test_truncated_jpeg_fails(tmp_path):
    whole = tmp_path / "whole.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(whole)
    cut = tmp_path / "cut.jpg"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match=r"cut\.jpg: not a readable image .*truncated"):
        decode_image(cut)


@pytest.mark.parametrize("content", [os.urandom(4096), b""], ids=["random", "empty"])
def test_non_images_fail(tmp_path, content):
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match="not a readable image"):
        decode_image(path)


def test_missing_file_fails(tmp_path):
    with pytest.raises(DecodeError, match="not a readable image"):
        decode_image(tmp_path / "absent.png")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("limit", [150, 50], ids=["pillow-warns", "pillow-raises"])
def test_decompression_bombs_fail_before_decoding(tmp_path, monkeypatch, limit):
    # A 200-pixel image against a lowered limit. Pillow only warns between the limit and twice
    # it (150) and raises beyond (50); both must be DecodeError.
    path = tmp_path / "bomb.png"
    Image.new("RGB", (10, 20)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(DecodeError, match=r"bomb\.png: not a readable image \(DecompressionBombError"):
        decode_image(path)


# --------------------------------------------------------------------------- video

FPS, COUNT, WIDTH, HEIGHT = 10, 30, 64, 48


def _colour(i: int) -> tuple[int, int, int]:
    """RGB of frame i: red fading to green, so order and position in the clip are visible."""
    return (255 - 8 * i, 8 * i, 0)


def _write_video(path, fourcc: str = "mp4v", count: int = COUNT):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        pytest.skip(f"this OpenCV build cannot write {fourcc} to {path.suffix}")
    for i in range(count):
        frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)
        frame[:] = _colour(i)[::-1]  # OpenCV writes BGR
        writer.write(frame)
    writer.release()
    return path


def _centre(frame: np.ndarray) -> np.ndarray:
    return frame[frame.shape[0] // 2, frame.shape[1] // 2].astype(int)


def test_video_frames_are_sampled_uniformly_in_order(tmp_path):
    path = _write_video(tmp_path / "clip.mp4")
    frames, info = sample_video_frames(path, frames=8, size=32)
    assert frames.shape == (8, 32, 32, 3) and frames.dtype == np.uint8
    assert info.width == WIDTH and info.height == HEIGHT
    assert info.duration == pytest.approx(COUNT / FPS)
    assert np.abs(_centre(frames[0]) - _colour(0)).max() <= 12  # RGB, first painted colour
    assert np.abs(_centre(frames[-1]) - _colour(COUNT - 1)).max() <= 12  # last painted colour
    greens = [_centre(frame)[1] for frame in frames]
    assert greens == sorted(greens) and greens[-1] - greens[0] > 200


def test_short_clip_repeats_its_last_frame(tmp_path):
    path = _write_video(tmp_path / "short.mp4", count=5)
    frames, _ = sample_video_frames(path, frames=8, size=16)
    assert frames.shape == (8, 16, 16, 3)
    assert np.abs(_centre(frames[-1]) - _colour(4)).max() <= 12
    np.testing.assert_array_equal(frames[-1], frames[-2])


def test_truncated_mp4_fails(tmp_path):
    # OpenCV's mp4 writer puts the index (moov atom) last, so a cut file has no index and no
    # decoder will open it: DecodeError, not a partial clip.
    data = _write_video(tmp_path / "whole.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match=r"cut\.mp4: not a readable video"):
        sample_video_frames(cut)


def test_truncated_avi_gives_fewer_but_valid_frames(tmp_path):
    # An AVI's header comes first, so a cut file still opens and claims all 30 frames; the
    # seeks past the cut fail and the sequential fallback samples what really decodes.
    data = _write_video(tmp_path / "whole.avi", fourcc="MJPG").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * 0.75)])
    frames, info = sample_video_frames(cut, frames=8, size=16)
    assert frames.shape == (8, 16, 16, 3)
    assert info.duration is not None and 0 < info.duration < COUNT / FPS  # the decodable part only
    assert np.abs(_centre(frames[0]) - _colour(0)).max() <= 12
    last_green = _centre(frames[-1])[1]
    assert last_green < _colour(COUNT - 1)[1] - 16  # from before the cut, not the painted end


@pytest.mark.parametrize("content", [os.urandom(8192), b""], ids=["random", "empty"])
def test_non_videos_fail(tmp_path, content):
    path = tmp_path / "x.mp4"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match="not a readable video"):
        sample_video_frames(path)


# --------------------------------------------------------------------------- audio


@pytest.fixture(scope="module")
def sine_wav(tmp_path_factory):
    """2.5 s of a 440 Hz sine at 44.1 kHz, stereo (the loader must mix to mono)."""
    path = tmp_path_factory.mktemp("audio") / "sine.wav"
    rate = 44_100
    t = np.arange(int(rate * 2.5)) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    soundfile.write(path, np.stack([tone, tone], axis=1).astype(np.float32), rate)
    return path


def test_audio_is_resampled_and_bounded(sine_wav):
    samples, info = load_audio(sine_wav, max_seconds=1.0)
    assert samples.dtype == np.float32 and samples.shape == (16_000,)
    assert info.duration == pytest.approx(2.5)
    assert 0.45 < np.abs(samples).max() < 0.55
    whole, _ = load_audio(sine_wav)  # the default 30 s window is longer than the file
    assert whole.shape == (40_000,)


def test_audio_offset_reads_a_later_window(sine_wav):
    samples, info = load_audio(sine_wav, offset=2.0, max_seconds=1.0)
    assert samples.shape == (8_000,)  # only 0.5 s left after the offset
    assert info.duration == pytest.approx(2.5)
    with pytest.raises(DecodeError, match="no samples after offset 3s; it lasts 2.5s"):
        load_audio(sine_wav, offset=3.0)


@pytest.mark.parametrize("content", [os.urandom(8192), b""], ids=["random", "empty"])
def test_non_audio_fails(tmp_path, content):
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    with pytest.raises(DecodeError, match=r"x\.wav: not readable audio"):
        load_audio(path)
