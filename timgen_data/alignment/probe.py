"""Cheap facts about a stored asset (size, length) without decoding it whole: what the
``assets`` table records at fetch time. One probe per kind of media; the modality table
(``timgen_data.alignment.modality_handling``) says which a modality uses, and turns
anything unreadable into empty facts: whether the bytes really decode is the features
stage's question."""

from __future__ import annotations

from pathlib import Path

from timgen_data.alignment.decode import MediaInfo


def probe_nothing(path: Path) -> MediaInfo:
    """For media without a size or a length (text)."""
    return MediaInfo()


def probe_image(path: Path) -> MediaInfo:
    from PIL import Image

    with Image.open(path) as image:  # reads the header only
        return MediaInfo(width=image.width, height=image.height)


def probe_video(path: Path) -> MediaInfo:
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
    finally:
        capture.release()
    duration = frames / fps if fps > 0 and frames > 0 else None
    return MediaInfo(width=width or None, height=height or None, duration=duration)


def probe_audio(path: Path) -> MediaInfo:
    import soundfile

    info = soundfile.info(str(path))
    return MediaInfo(duration=info.duration)
