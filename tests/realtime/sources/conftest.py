"""The dance clip's first frames, for the source tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="package")
def dance_frames(media_dir: Path) -> list[np.ndarray]:
    """The dance clip's first 12 frames (576x576, BGR)."""
    clip = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    frames = [clip.read()[1] for _ in range(12)]
    clip.release()
    return frames

