"""OpenCV windows as a user at a desk expects them: resizable, fitted to a screen, without Qt's
toolbar, and closed by their button without an error (display QA, 2026-12-07, on Xvfb with a
window manager). Used by the live view and the live camera calibration."""

from __future__ import annotations

import contextlib
import sys

import cv2

#: The largest size (width, height, px) a window opens at; the user can make it larger. A
#: 1366x768 laptop screen holds it with its title bar.
WINDOW_MAX_PX = (1280, 700)


def open_window(title: str, width_px: int, height_px: int) -> None:
    """A window the user can resize (keeping the image's shape), without Qt's toolbar, at the
    image's size or, when larger, fitted into :data:`WINDOW_MAX_PX`. OpenCV's default window was
    fixed at the image's size (2,000 px wide for a 720p camera's live view, its close button off a
    1080p screen), and its toolbar's Save dialog or its right-click menu, open for 4 s, held the
    thread that shows it: the whole pipeline, 150 frames dropped, no pose published."""
    cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
    scale = min(1.0, WINDOW_MAX_PX[0] / width_px, WINDOW_MAX_PX[1] / height_px)
    cv2.resizeWindow(title, max(1, round(width_px * scale)), max(1, round(height_px * scale)))


def window_closed(title: str) -> bool:
    """Whether the user closed the window ``title`` (shown before). Once its last window is
    closed, OpenCV's Qt build raises ("NULL guiReceiver") where the others say 0: closing the live
    view by its button ended the run with that error, exit 2. On macOS a minimised or hidden
    window is not visible either, and Cocoa's windows have no close button: never closed there (q
    and Esc end the run; review: a minimised window ended a camera run and its recording)."""
    if sys.platform == "darwin":
        return False
    try:
        return cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1
    except cv2.error:
        return True


def close_window(title: str) -> None:
    """Close the window ``title``, already closed by its button or not (Qt's build raises then)."""
    with contextlib.suppress(cv2.error):
        cv2.destroyWindow(title)
