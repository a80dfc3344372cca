"""Cheap facts about a stored asset (size, length) without decoding it whole: what the
``assets`` table records at fetch time. Anything unreadable gives empty facts; whether the
bytes really decode is the features stage's question."""

from __future__ import annotations

from pathlib import Path

from timgen_data.alignment.decode import MediaInfo


def probe_media(path: Path, modality: str) -> MediaInfo:
    try:
        if modality == "image":
            from PIL import Image

            with Image.open(path) as image:  # reads the header only
                return MediaInfo(width=image.width, height=image.height)
        if modality == "video":
            import cv2

            capture = cv2.VideoCapture(str(path))
            try:
                width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
                frames, fps = capture.get(cv2.CAP_PROP_FRAME_COUNT), capture.get(cv2.CAP_PROP_FPS)
            finally:
                capture.release()
            duration = frames / fps if fps > 0 and frames > 0 else None
            return MediaInfo(width=width or None, height=height or None, duration=duration)
        if modality == "audio":
            import soundfile

            info = soundfile.info(str(path))
            return MediaInfo(duration=info.duration)
    except Exception:  # noqa: BLE001 - probing is best effort; decoding reports real problems later
        pass
    return MediaInfo()
