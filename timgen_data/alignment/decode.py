"""Bytes on disk to what encoders take: RGB pixels, sampled video frames, mono audio samples.

Each function reads a bounded amount (a downscaled image, a fixed number of frames, a window of
audio) so one huge asset cannot exhaust memory, and turns every way a file can be unreadable
into ``DecodeError``; the features stage records that on the asset and moves on.

Outputs match the input types in ``timgen_data.alignment.encoders.base``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timgen_data.alignment.encoders.base import AUDIO_SAMPLE_RATE
from timgen_data.errors import DecodeError

__all__ = ["MediaInfo", "decode_image", "load_audio", "read_text", "sample_video_frames"]


@dataclass(frozen=True)
class MediaInfo:
    """Facts about the source, before any downscaling or windowing; None where unknown."""

    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds


# --------------------------------------------------------------------------- text


def read_text(path: str | Path, *, max_chars: int) -> str:
    """The first ``max_chars`` characters of a UTF-8 file; undecodable bytes become U+FFFD."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")[:max_chars]
    except OSError as exc:
        raise DecodeError(f"{path}: cannot read text ({exc})") from exc


# --------------------------------------------------------------------------- images

_EXIF_ORIENTATION = 0x0112
_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # these swap width and height when applied


def decode_image(path: str | Path, *, max_side: int = 512) -> tuple[np.ndarray, MediaInfo]:
    """Decode an image to [H, W, 3] uint8 RGB with its longer side at most ``max_side``.

    EXIF orientation is applied, so the pixels and the returned (original, pre-downscale)
    width/height are as a viewer shows them. Transparent pixels are composited onto white
    (what a viewer shows on a page), not left as whatever colour the encoder stored under them.
    """
    from PIL import Image, ImageFile, ImageOps

    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    # Pillow's default, restated because it is a process-wide switch that any imported library
    # may flip: a truncated file must fail here, not decode as a half-grey picture that then
    # gets a feature vector as if it were whole.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(path) as image:
            width, height = image.size
            # Image.open only warns between MAX_IMAGE_PIXELS and twice that; refuse the whole
            # range here (without touching the process's warning filters) so a decompression
            # bomb never reaches load().
            limit = Image.MAX_IMAGE_PIXELS
            if limit is not None and width * height > limit:
                raise Image.DecompressionBombError(f"{width}x{height} pixels exceeds the limit of {limit}")
            if image.getexif().get(_EXIF_ORIENTATION) in _ROTATED_ORIENTATIONS:
                width, height = height, width
            # JPEG can decode at 1/2, 1/4 or 1/8 scale directly (never below the size asked),
            # which makes large photos several times cheaper; other formats ignore this.
            image.draft("RGB", (max_side, max_side))
            image.load()  # decodes now, so truncation surfaces inside this try
            image = ImageOps.exif_transpose(image)
            image = _to_rgb(image)
            image = _fit(image, max_side)
            pixels = np.asarray(image, dtype=np.uint8)
    except DecodeError:
        raise
    except Exception as exc:  # every decoder failure means "not a readable image"
        raise DecodeError(f"{path}: not a readable image ({_reason(exc)})") from exc
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.size == 0:
        raise DecodeError(f"{path}: not a readable image (decoded to shape {pixels.shape})")
    return np.ascontiguousarray(pixels), MediaInfo(width=width, height=height)


def _to_rgb(image):
    """Any Pillow mode to RGB: palettes, alpha, 1-bit, 16-bit and float greyscale, CMYK."""
    from PIL import Image

    if image.mode == "P":
        # A palette may carry transparency; expand it so the alpha branch below composites it.
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        # Pillow's convert("L") clips these instead of rescaling, so a 16-bit scan comes out
        # all white; map the value range to 0..255 ourselves.
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if image.mode == "F" and values.max(initial=0.0) <= 1.0 else 65535.0
        grey = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        image = Image.fromarray(grey, mode="L")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image if image.mode == "RGB" else image.convert("RGB")


def _fit(image, max_side: int):
    width, height = image.size
    longest = max(width, height)
    if longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    from PIL import Image

    return image.resize(size, Image.Resampling.LANCZOS)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- video

# When seeking fails and we fall back to reading the whole stream, keep at most this many
# candidate frames per frame asked for; older candidates are thinned by half whenever the
# buffer fills, so memory stays bounded however long the clip really is.
_FALLBACK_KEEP_PER_FRAME = 8
# Reading forward over a gap this small is cheaper than a seek, which restarts decoding at
# the previous keyframe.
_MAX_GRAB_GAP = 16


def sample_video_frames(path: str | Path, *, frames: int = 8, size: int = 224) -> tuple[np.ndarray, MediaInfo]:
    """``frames`` RGB frames sampled uniformly over the clip, each resized to size x size.

    Returns [frames, size, size, 3] uint8. Container frame counts are often wrong (and
    truncated files claim frames they no longer have), so if any seek or read fails the clip
    is read sequentially and sampled from the frames that actually decode. A clip with fewer
    decodable frames than asked repeats its last one. MediaInfo.duration is count / fps, with
    the decodable count when the sequential fallback ran.
    """
    import cv2

    if frames < 1 or size < 1:
        raise ValueError(f"frames and size must be >= 1, got frames={frames}, size={size}")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise DecodeError(f"{path}: not a readable video (no decoder could open it)")
        width = int(_positive(capture.get(cv2.CAP_PROP_FRAME_WIDTH))) or None
        height = int(_positive(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))) or None
        fps = _positive(capture.get(cv2.CAP_PROP_FPS))
        count = int(_positive(capture.get(cv2.CAP_PROP_FRAME_COUNT)))

        picked = _read_by_seeking(capture, count, frames, size) if count > 0 else None
        if picked is None:
            capture.release()  # a fresh capture: the failed seeks left this one mid-stream
            capture = cv2.VideoCapture(str(path))
            picked, count = _read_sequentially(capture, frames, size)
        if not picked:
            raise DecodeError(f"{path}: not a readable video (no frame could be decoded)")
    except DecodeError:
        raise
    except Exception as exc:  # OpenCV raises cv2.error and others on bad streams
        raise DecodeError(f"{path}: not a readable video ({_reason(exc)})") from exc
    finally:
        capture.release()

    if len(picked) < frames:
        picked = picked + [picked[-1]] * (frames - len(picked))
    duration = count / fps if fps > 0 and count > 0 else None
    return np.stack(picked), MediaInfo(width=width, height=height, duration=duration)


def _positive(value: float) -> float:
    """A container property, or 0 where it is missing, negative or NaN (all seen in the wild)."""
    value = float(value)
    return value if np.isfinite(value) and value > 0 else 0.0


def _read_by_seeking(capture, count: int, frames: int, size: int) -> list[np.ndarray] | None:
    """Seek to each uniformly spaced index; None as soon as one seek or read fails.

    A clip with fewer frames than asked returns all of them once; the caller pads with the
    last, the same as after the sequential fallback.
    """
    import cv2

    indices = np.linspace(0, count - 1, frames).round().astype(int) if count > frames else np.arange(count)
    picked: list[np.ndarray] = []
    position = 0  # index of the next frame read() returns
    for index in indices:  # strictly increasing
        gap = index - position
        if 0 <= gap <= _MAX_GRAB_GAP:
            for _ in range(gap):
                if not capture.grab():
                    return None
        elif not capture.set(cv2.CAP_PROP_POS_FRAMES, float(index)):
            return None
        ok, frame = capture.read()
        if not ok or frame is None:
            return None
        position = index + 1
        picked.append(_prepare_frame(frame, size))
    return picked


def _read_sequentially(capture, frames: int, size: int) -> tuple[list[np.ndarray], int]:
    """Read every decodable frame once; return a uniform sample of them and how many there were."""
    keep = max(2 * frames, _FALLBACK_KEEP_PER_FRAME * frames)
    kept: list[np.ndarray] = []
    stride = 1  # kept frames are those whose index is a multiple of stride
    decoded = 0
    if capture.isOpened():
        while True:
            ok = capture.grab()  # grab only advances; retrieve (the costly part) runs for kept frames
            if not ok:
                break
            if decoded % stride == 0:
                ok, frame = capture.retrieve()
                if not ok or frame is None:
                    break
                kept.append(_prepare_frame(frame, size))
                if len(kept) >= keep:
                    kept = kept[::2]
                    stride *= 2
            decoded += 1
    if len(kept) <= frames:
        return kept, decoded
    indices = np.linspace(0, len(kept) - 1, frames).round().astype(int)
    return [kept[i] for i in indices], decoded


def _prepare_frame(frame: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


# --------------------------------------------------------------------------- audio


def load_audio(
    path: str | Path,
    *,
    sample_rate: int = AUDIO_SAMPLE_RATE,
    max_seconds: float = 30.0,
    offset: float = 0.0,
) -> tuple[np.ndarray, MediaInfo]:
    """A mono float32 window of at most ``max_seconds`` from ``offset``, resampled to ``sample_rate``.

    Only the window is decoded, never the whole file. Formats libsndfile reads (WAV, FLAC, OGG,
    MP3) go through soundfile; anything else, such as the audio track of a video, goes through
    audioread where it has a backend (ffmpeg). MediaInfo.duration is the whole file's length
    where the header states it, else the length decoded when the window reached the end of the
    file, else None (longer than the window, by how much is unknown without decoding it all).
    """
    import librosa

    if max_seconds <= 0 or offset < 0 or sample_rate < 1:
        raise ValueError(
            f"need max_seconds > 0, offset >= 0, sample_rate >= 1; got {max_seconds}, {offset}, {sample_rate}"
        )
    duration = _soundfile_duration(path)
    if duration is not None and offset >= duration:
        # Checked here because soundfile fails to seek past the end, and librosa would then
        # retry the file through audioread only to find nothing either.
        where = f" after offset {offset:g}s; it lasts {duration:g}s" if duration else ""
        raise DecodeError(f"{path}: not readable audio (no samples{where})")
    try:
        if duration is not None:
            samples, _ = librosa.load(path, sr=sample_rate, mono=True, offset=offset, duration=max_seconds)
        else:
            samples, duration = _load_with_audioread(path, sample_rate, offset, max_seconds)
    except DecodeError:
        raise
    except Exception as exc:  # soundfile, audioread and resampling each raise their own
        raise DecodeError(f"{path}: not readable audio ({_reason(exc)})") from exc
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if samples.size == 0:
        where = f" after offset {offset:g}s" if offset else ""
        raise DecodeError(f"{path}: not readable audio (no samples{where})")
    if not np.isfinite(samples).all():
        raise DecodeError(f"{path}: not readable audio (decoded samples are not finite)")
    if duration is None and samples.size < round(max_seconds * sample_rate) - 1:
        duration = offset + samples.size / sample_rate  # the window ran into the end of the file
    return samples, MediaInfo(duration=duration)


def _soundfile_duration(path: str | Path) -> float | None:
    """The length libsndfile reads from the header without decoding; None if it cannot open the file."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:  # noqa: BLE001 - not a libsndfile format; audioread gets a try next
        return None
    return float(info.duration) if info.frames > 0 and info.samplerate > 0 else 0.0


def _load_with_audioread(path: str | Path, sample_rate: int, offset: float, max_seconds: float):
    """Formats libsndfile cannot read, such as a video's audio track, through audioread (ffmpeg).

    We read the stream ourselves instead of letting librosa.load fail over to it: librosa
    first retries soundfile (a second failure and a warning), and its audioread path is
    deprecated (a FutureWarning on every run, removal in librosa 1.0). The stream also states
    its duration from ffmpeg's header probe, without decoding it all.
    """
    import librosa

    try:
        import audioread
    except ImportError as exc:  # librosa >= 1.0 no longer installs it
        raise DecodeError(
            f"{path}: not readable audio (not a libsndfile format, and audioread is not installed)"
        ) from exc
    with audioread.audio_open(str(path)) as stream:
        native_rate, channels = int(stream.samplerate), max(1, int(stream.channels))
        stated = float(stream.duration) if stream.duration and stream.duration > 0 else None
        # Interleaved int16 sample positions of the window; whole frames, so channels stay aligned.
        start = round(offset * native_rate) * channels
        end = start + round(max_seconds * native_rate) * channels
        chunks: list[np.ndarray] = []
        seen = 0
        for block in stream:  # 16-bit little-endian PCM, whatever the source format
            values = np.frombuffer(block, dtype="<i2")
            first, seen = seen, seen + values.size
            if seen <= start:
                continue
            chunks.append(values[max(0, start - first) : end - first])
            if seen >= end:
                break  # closing the stream stops the decoder; the rest is never decoded
    if not chunks:
        return np.zeros(0, dtype=np.float32), stated
    interleaved = np.concatenate(chunks).astype(np.float32) / 32768.0
    usable = interleaved.size - interleaved.size % channels
    mono = interleaved[:usable].reshape(-1, channels).mean(axis=1)
    if native_rate != sample_rate and mono.size:
        mono = librosa.resample(mono, orig_sr=native_rate, target_sr=sample_rate)  # librosa.load's default (soxr_hq)
    return mono, stated
