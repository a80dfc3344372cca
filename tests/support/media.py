"""Small media files made on the fly for asset and decoding tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_mp4(path: Path, frames: int = 12, size: tuple[int, int] = (64, 48)) -> bytes:
    """An mp4v clip whose grey level rises frame by frame; returns its bytes."""
    import cv2

    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (width, height))
    for i in range(frames):
        writer.write(np.full((height, width, 3), i * 20 % 256, np.uint8))
    writer.release()
    return Path(path).read_bytes()
