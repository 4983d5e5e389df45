"""Test helper: a real clip's frames as an image folder, for the tests of outputs over a folder input."""

from __future__ import annotations

from pathlib import Path

import cv2

MEDIA = Path(__file__).resolve().parents[1] / "fixtures" / "media"


def dance_frames_folder(folder: Path, count: int, name: str = "{:03d}.png") -> Path:
    """The dance clip's first ``count`` frames as images named ``name.format(i)`` in a new ``folder``."""
    folder.mkdir()
    capture = cv2.VideoCapture(str(MEDIA / "dance_576.mp4"))
    for i in range(count):
        cv2.imwrite(str(folder / name.format(i)), capture.read()[1])
    capture.release()
    return folder
