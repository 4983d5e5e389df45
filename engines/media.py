"""Facts about images and displays shared by the live pipeline and calibration (defined once)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

#: File name endings read as images (image-folder sources, calibration photos).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def display_available() -> bool:
    """Whether a window can be opened: on Linux, ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def opencv_path_problem(path: str | Path) -> str | None:
    """Why OpenCV cannot be given ``path`` by name, or ``None``. A name with bytes that are not
    UTF-8 (Python holds them as surrogates) crashed OpenCV's VideoCapture and VideoWriter with a
    segmentation fault, no message; images are read through Python instead (:func:`read_image`)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return (f"{os.fsencode(path)!r} is not valid UTF-8, which OpenCV needs for videos: rename the file (or its "
                "folder) to a UTF-8 name")  # fmt: skip
    return None


def read_image(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray | None:
    """The image at ``path`` as OpenCV decodes it (``None``: not a readable image). Read through
    Python, so a name that is not UTF-8 works as any other (``cv2.imread`` crashed on one)."""
    try:
        data = np.fromfile(os.fsencode(path), np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, flags) if data.size else None
