"""Facts about images and displays shared by the live pipeline and calibration (defined once)."""

from __future__ import annotations

import os
import sys

#: File name endings read as images (image-folder sources, calibration photos).
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def display_available() -> bool:
    """Whether a window can be opened: on Linux, ``DISPLAY`` or ``WAYLAND_DISPLAY`` is set."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True
