"""Encoders that need no model weights: the offline default for every modality.

Hand-made features (hashed n-grams, colour and gradient histograms, frame differences,
spectral statistics) are weak next to learned embeddings, but they are free, fast, run on any
CPU, and still put near-duplicates and same-kind media close together, which is what the
alignment and similarity checks downstream need from a baseline.

Scaling. Each vector is a concatenation of blocks (listed in each encoder's ``blocks``), and
every block is scaled to an L2 norm of at most 1 so none dominates a dot product or a cosine
just because it has more bins or larger units:

- histograms are L2-normalized (their shape is the information, not their mass);
- statistics are mapped to [0, 1] by fixed constants (colour / 255, frequencies / Nyquist, a
  tanh squash for unbounded MFCCs) and the block is divided by sqrt(its length). Fixed
  constants rather than per-vector normalization so absolute levels survive: a dark image
  and a bright one must differ, not become the same direction.

Determinism. Row i depends only on inputs[i]: nothing is shared across the batch (no batch
statistics, no batched matrix products whose rounding depends on the batch shape), so the
same input gives identical bytes in any batch. Vectorization is within one input (all pixels,
all frames of one clip) and, for text, across the batch where rows are independent anyway.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from timgen_data.alignment.encoders.base import AUDIO_SAMPLE_RATE, Encoder

__all__ = [
    "AUDIO_SPECTRAL_INDEX",
    "ClassicAudioEncoder",
    "ClassicImageEncoder",
    "ClassicTextEncoder",
    "ClassicVideoEncoder",
]

VERSION = "1"


def _layout(sizes: dict[str, int]) -> tuple[dict[str, slice], int]:
    """Consecutive slices for named blocks, and the total length."""
    blocks, start = {}, 0
    for name, size in sizes.items():
        blocks[name] = slice(start, start + size)
        start += size
    return blocks, start


def _unit(values: np.ndarray) -> np.ndarray:
    """L2-normalize along the last axis; all-zero rows stay zero (nothing to say, not NaN)."""
    norm = np.linalg.norm(values, axis=-1, keepdims=True)
    return np.divide(values, norm, out=np.zeros_like(values), where=norm > 0)


def _stats_block(values: np.ndarray) -> np.ndarray:
    """Statistics already in [0, 1] to a block of L2 norm <= 1."""
    values = np.clip(np.nan_to_num(values, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    return values / math.sqrt(values.shape[-1])


def _empty(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)


# --------------------------------------------------------------------------- text


def _encode_each(inputs: Sequence[Any], dim: int, one) -> np.ndarray:
    """Rows from ``one(input, position)``: each row depends only on its own input."""
    if len(inputs) == 0:
        return _empty(dim)
    return np.stack([one(x, i) for i, x in enumerate(inputs)]).astype(np.float32)


class ClassicTextEncoder:
    """Hashed word 1-2-grams and character 3-5-grams, sublinear tf, L2-normalized.

    The first ``dim // 2`` columns hash word n-grams, the rest character n-grams (within word
    boundaries, so they survive spelling variants and compounds: "spaceship" shares
    "spa", "pace", "ace" with "space"). Each half is L2-normalized before the whole row is, so
    the two views weigh the same. Text is lower-cased and accents are stripped. Text with no
    token gives the zero vector.
    """

    modality = "text"
    name = "classic:text"
    default_dim = 256

    def __init__(self, dim: int = default_dim) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        if dim < 2:
            raise ValueError(f"dim must be >= 2, got {dim}")
        self.dim = int(dim)
        # The store keys vectors by name@version only, so a non-default width must not share a key.
        self.version = VERSION if self.dim == self.default_dim else f"{VERSION}-d{self.dim}"
        common = {"lowercase": True, "strip_accents": "unicode", "alternate_sign": False, "norm": None, "dtype": np.float64}
        self._words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=self.dim // 2, **common)
        self._chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=self.dim - self.dim // 2, **common)
        self.blocks = {"words": slice(0, self.dim // 2), "chars": slice(self.dim // 2, self.dim)}

    def encode(self, inputs: Sequence[Any]) -> np.ndarray:
        texts = list(inputs)
        if not texts:
            return _empty(self.dim)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text input {i} is {type(text).__name__}, expected str")
        halves = []
        for vectorizer in (self._words, self._chars):
            counts = vectorizer.transform(texts)  # hashing is stateless, so rows are independent
            counts.data = 1.0 + np.log(counts.data)  # sublinear tf: repetition counts, but less
            halves.append(_unit(counts.toarray()))
        return _unit(np.hstack(halves)).astype(np.float32)


# --------------------------------------------------------------------------- images

# Images are analysed at this longer side: enough for colour and texture statistics, and it
# makes texture scale comparable between a 512-px photo and a 224-px video frame.
_WORK_SIDE = 128
_HSV_BINS = (8, 4, 4)  # hue x saturation x value: hue matters most for "what colour is it"
_MAGNITUDE_EDGES = np.array([0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, np.inf])  # Sobel on [0, 1] grey, log-spaced
_ORIENTATION_BINS = 8  # over [0, pi): edges have no sign
_EDGE_THRESHOLD = 0.25  # Sobel magnitude that counts as an edge pixel (a ~6% step in grey level)
_IMAGE_BLOCKS, _IMAGE_DIM = _layout(
    {
        "hsv_histogram": int(np.prod(_HSV_BINS)),  # 128
        "gradient_magnitude": len(_MAGNITUDE_EDGES) - 1,  # 8
        "gradient_orientation": _ORIENTATION_BINS,  # 8
        "colour_stats": 7,  # mean R, G, B; std R, G, B; edge density
    }
)


def _check_image(image: Any, where: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise ValueError(f"{where}: expected [H, W, 3] uint8 RGB, got shape {array.shape} dtype {array.dtype}")
    return array


def _work_size(image: np.ndarray) -> np.ndarray:
    import cv2

    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= _WORK_SIDE:
        return np.ascontiguousarray(image)
    scale = _WORK_SIDE / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)


def _hsv_histogram(image: np.ndarray) -> np.ndarray:
    """Raw counts (not normalized) of the 8x4x4 HSV histogram, flattened."""
    import cv2

    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)  # OpenCV hue is 0..179
    counts = cv2.calcHist([hsv], [0, 1, 2], None, list(_HSV_BINS), [0, 180, 0, 256, 0, 256])
    return counts.reshape(-1).astype(np.float64)


def _image_features(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ClassicImageEncoder row (float64) for one [H, W, 3] uint8 image, and its raw HSV counts."""
    import cv2

    small = _work_size(image)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy).astype(np.float64).reshape(-1)
    orientation = np.mod(np.arctan2(gy, gx).astype(np.float64).reshape(-1), np.pi)

    magnitude_hist = np.histogram(magnitude, bins=_MAGNITUDE_EDGES)[0].astype(np.float64)
    orientation_hist = np.bincount(
        np.minimum((orientation / np.pi * _ORIENTATION_BINS).astype(np.int64), _ORIENTATION_BINS - 1),
        weights=magnitude,  # strong edges say more about texture direction than noise does
        minlength=_ORIENTATION_BINS,
    )
    pixels = small.reshape(-1, 3).astype(np.float64) / 255.0
    stats = np.concatenate(
        [pixels.mean(axis=0), 2.0 * pixels.std(axis=0), [np.mean(magnitude > _EDGE_THRESHOLD)]]  # std <= 0.5
    )
    hsv_counts = _hsv_histogram(small)
    row = np.concatenate([_unit(hsv_counts), _unit(magnitude_hist), _unit(orientation_hist), _stats_block(stats)])
    return row, hsv_counts


class ClassicImageEncoder:
    """Colour and texture statistics of an RGB image; dim 151.

    Blocks (``blocks``): HSV histogram 8x4x4 (128), Sobel gradient-magnitude histogram on
    log-spaced edges (8), magnitude-weighted gradient-orientation histogram (8), and mean and
    std per RGB channel plus edge density (7). Computed on a copy whose longer side is 128 px.
    """

    modality = "image"
    name = "classic:image"
    version = VERSION
    dim = _IMAGE_DIM
    blocks = _IMAGE_BLOCKS

    def encode(self, inputs: Sequence[Any]) -> np.ndarray:
        return _encode_each(inputs, self.dim, lambda x, i: _image_features(_check_image(x, f"image input {i}"))[0])


# --------------------------------------------------------------------------- video

_MOTION_SIDE = 64  # motion is measured on tiny grey frames: cheap, and insensitive to noise
_CHANGE_THRESHOLD = 0.1  # a pixel "changes" when its grey level moves by 10% of full range
_FLOW_MOVING_PIXELS = 1.0  # flow magnitude (px at 64 px) that counts as moving
_VIDEO_BLOCKS, _VIDEO_DIM = _layout(
    {
        **{f"frame_{name}": s.stop - s.start for name, s in _IMAGE_BLOCKS.items()},  # 151, image features averaged
        "colour_change": 4,  # std over frames of mean R, G, B; mean histogram change between frames
        "frame_difference": 4,  # mean, std, largest per-step mean abs difference; share of changing pixels
        "optical_flow": 3,  # mean magnitude, largest per-step mean, share of moving pixels
    }
)


def _check_video(video: Any, where: str) -> np.ndarray:
    array = np.asarray(video)
    if array.ndim != 4 or array.shape[3] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise ValueError(f"{where}: expected [F, H, W, 3] uint8 RGB, got shape {array.shape} dtype {array.dtype}")
    return array


def _video_features(video: np.ndarray) -> np.ndarray:
    """The ClassicVideoEncoder row (float64) for one [F, H, W, 3] uint8 clip.

    Frames are sampled uniformly over the whole clip, so "motion" here is change between
    sample points (seconds apart in a trailer): scene cuts and camera movement as much as
    motion within a shot. A single frame has no change, so its temporal blocks are zero.
    """
    import cv2

    rows, hists = zip(*(_image_features(frame) for frame in video), strict=True)
    per_frame, hists = np.stack(rows), np.stack(hists)
    mean_colour = video.reshape(video.shape[0], -1, 3).mean(axis=1) / 255.0  # [F, 3]
    hists /= np.maximum(hists.sum(axis=1, keepdims=True), 1.0)  # L1: halved L1 distance is in [0, 1]

    grey = np.stack(
        [
            cv2.resize(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY), (_MOTION_SIDE, _MOTION_SIDE), interpolation=cv2.INTER_AREA)
            for frame in video
        ]
    )
    if len(video) > 1:
        hist_change = 0.5 * np.abs(np.diff(hists, axis=0)).sum(axis=1).mean()
        diffs = np.abs(np.diff(grey.astype(np.float64) / 255.0, axis=0))  # [F-1, 64, 64], vectorized over frames
        step_means = diffs.mean(axis=(1, 2))
        difference = [diffs.mean(), 2.0 * diffs.std(), step_means.max(), np.mean(diffs > _CHANGE_THRESHOLD)]
        magnitudes = np.stack(
            [
                np.linalg.norm(cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0), axis=2)
                for a, b in itertools.pairwise(grey)
            ]
        )
        # Pixels per step at 64 px, over 8: a shift of an eighth of the frame saturates the feature.
        flow = [magnitudes.mean() / 8.0, magnitudes.mean(axis=(1, 2)).max() / 8.0, np.mean(magnitudes > _FLOW_MOVING_PIXELS)]
    else:
        hist_change, difference, flow = 0.0, [0.0] * 4, [0.0] * 3
    colour_change = np.concatenate([2.0 * mean_colour.std(axis=0), [hist_change]])
    return np.concatenate(
        [
            per_frame.mean(axis=0),
            _stats_block(colour_change),
            _stats_block(np.asarray(difference, dtype=np.float64)),
            _stats_block(np.asarray(flow, dtype=np.float64)),
        ]
    )


class ClassicVideoEncoder:
    """Appearance averaged over frames plus how much the clip changes; dim 162.

    Blocks (``blocks``): the four ClassicImageEncoder blocks averaged over frames (151); colour
    change: std over frames of mean R, G, B and mean HSV-histogram change between consecutive
    frames (4); frame difference on 64x64 grey frames: mean, std, largest per-step mean of the
    absolute difference and share of pixels changing by more than 10% (4); Farneback optical
    flow on the same frames: mean magnitude, largest per-step mean, share of moving pixels (3).
    """

    modality = "video"
    name = "classic:video"
    version = VERSION
    dim = _VIDEO_DIM
    blocks = _VIDEO_BLOCKS
    frame_size = 112  # frames the features stage decodes for it: statistics need no more pixels

    def encode(self, inputs: Sequence[Any]) -> np.ndarray:
        return _encode_each(inputs, self.dim, lambda x, i: _video_features(_check_video(x, f"video input {i}")))


# --------------------------------------------------------------------------- audio

_N_FFT = 1024  # 64 ms at 16 kHz
_HOP = 512
_N_MFCC = 20
_N_MELS = 64
# MFCC scales for the tanh squash, from typical values at 16 kHz with power_to_db(ref=1):
# c0 (overall log energy) spans about -800 (silence) to +100, the others about +-60.
_MFCC_MEAN_SCALE = np.array([400.0] + [50.0] * (_N_MFCC - 1))
_MFCC_STD_SCALE = np.array([100.0] + [25.0] * (_N_MFCC - 1))
_SILENT_RMS = 1e-5  # frames quieter than this (-100 dBFS) have no spectral shape to speak of
_SPECTRAL = ("centroid", "bandwidth", "rolloff", "flatness", "zero_crossing_rate", "rms")
_AUDIO_BLOCKS, _AUDIO_DIM = _layout(
    {
        "mfcc_mean": _N_MFCC,
        "mfcc_std": _N_MFCC,
        "chroma_mean": 12,
        "spectral": 2 * len(_SPECTRAL),  # mean then std of each, in _SPECTRAL order
    }
)
# Where each spectral statistic's mean and std sit in the vector, e.g. for checks and plots.
AUDIO_SPECTRAL_INDEX = {
    name: (_AUDIO_BLOCKS["spectral"].start + 2 * i, _AUDIO_BLOCKS["spectral"].start + 2 * i + 1)
    for i, name in enumerate(_SPECTRAL)
}


def _check_audio(samples: Any, where: str) -> np.ndarray:
    array = np.asarray(samples)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{where}: expected [S] float mono samples, got shape {array.shape} dtype {array.dtype}")
    return array


def _audio_features(samples: np.ndarray) -> np.ndarray:
    """The ClassicAudioEncoder row (float64) for one mono clip at AUDIO_SAMPLE_RATE.

    Silence and clips shorter than one FFT window are legal inputs (a trailer's quiet intro, a
    click). They are zero-padded to one window so librosa has a frame to work on, and any NaN
    left (0/0 in a normalization over a silent frame) becomes 0, meaning "no such property",
    so the row stays usable in a cosine instead of poisoning every comparison with NaN.
    """
    import librosa

    y = np.nan_to_num(samples.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if y.size < _N_FFT:
        y = np.pad(y, (0, _N_FFT - y.size))
    sr = AUDIO_SAMPLE_RATE
    magnitude = np.abs(librosa.stft(y, n_fft=_N_FFT, hop_length=_HOP))
    power = magnitude**2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=_N_MELS)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=_N_MFCC)
    chroma = librosa.feature.chroma_stft(S=power, sr=sr, tuning=0.0)  # fixed tuning: estimating it is slow
    rms = librosa.feature.rms(S=magnitude, frame_length=_N_FFT)[0]
    flatness = librosa.feature.spectral_flatness(S=magnitude)[0]
    # librosa floors power at amin, so an all-zero frame reads as perfectly flat (1.0), i.e.
    # as white noise; silence has no spectrum, so call it 0.
    flatness = np.where(rms > _SILENT_RMS, flatness, 0.0)
    centroid, bandwidth, rolloff = _spectral_shape(magnitude)
    spectral = {
        "centroid": centroid,
        "bandwidth": bandwidth,
        "rolloff": rolloff,
        "flatness": flatness,
        "zero_crossing_rate": librosa.feature.zero_crossing_rate(y, frame_length=_N_FFT, hop_length=_HOP)[0],
        "rms": rms,  # full-scale sine ~0.7; a clipped square wave reaches 1
    }
    # Stds of [0, 1] quantities are at most 0.5, so doubled they share the means' range.
    spectral_stats = np.concatenate([[np.mean(spectral[n]), 2.0 * np.std(spectral[n])] for n in _SPECTRAL])
    row = np.concatenate(
        [
            np.tanh(mfcc.mean(axis=1) / _MFCC_MEAN_SCALE) / math.sqrt(_N_MFCC),
            np.tanh(mfcc.std(axis=1) / _MFCC_STD_SCALE) / math.sqrt(_N_MFCC),
            _stats_block(chroma.mean(axis=1)),
            _stats_block(spectral_stats),
        ]
    )
    return np.nan_to_num(row, nan=0.0, posinf=0.0, neginf=0.0)


def _spectral_shape(magnitude: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame spectral centroid, bandwidth and 85% rolloff, as fractions of Nyquist.

    The same definitions as librosa's spectral_centroid, spectral_bandwidth (p=2) and
    spectral_rolloff, computed from one normalization of the spectrum instead of three
    (bandwidth recomputes the centroid): together they were half the encoder's time.
    Silent frames give 0 for all three.
    """
    import librosa

    freqs = librosa.fft_frequencies(sr=AUDIO_SAMPLE_RATE, n_fft=_N_FFT) / (AUDIO_SAMPLE_RATE / 2.0)  # [bins]
    total = magnitude.sum(axis=0)  # [frames]
    weights = np.divide(magnitude, total, out=np.zeros_like(magnitude), where=total > 0)
    centroid = freqs @ weights
    bandwidth = np.sqrt(np.maximum(((freqs[:, None] - centroid) ** 2 * weights).sum(axis=0), 0.0))
    cumulative = np.cumsum(magnitude, axis=0)
    rolloff = freqs[np.argmax(cumulative >= 0.85 * cumulative[-1], axis=0)]
    return centroid, bandwidth, rolloff


class ClassicAudioEncoder:
    """Timbre, pitch-class and spectral-shape statistics of a mono clip; dim 64.

    Blocks (``blocks``): MFCC (20) mean and std (20 + 20), chroma (12) mean, and mean and std
    of spectral centroid, bandwidth, rolloff, flatness, zero-crossing rate and RMS (12; the
    index of each in ``AUDIO_SPECTRAL_INDEX``). 1024-sample FFT, hop 512, at 16 kHz. Tempo is
    left out: beat tracking costs more than everything else here together.
    """

    modality = "audio"
    name = "classic:audio"
    version = VERSION
    dim = _AUDIO_DIM
    blocks = _AUDIO_BLOCKS

    def encode(self, inputs: Sequence[Any]) -> np.ndarray:
        return _encode_each(inputs, self.dim, lambda x, i: _audio_features(_check_audio(x, f"audio input {i}")))
