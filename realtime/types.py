"""Data passed between the live pipeline's stages (one dataclass per hand-over)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Frame:
    """One image from a source.

    ``frame_id`` counts from 0 in capture order (a live camera skips the ids of frames it
    dropped, so gaps show drops); ``capture_ns`` is ``time.monotonic_ns()`` when the frame was
    grabbed; ``image_bgr`` is ``(H, W, 3)`` uint8 in OpenCV's BGR order; ``source_fps`` is the
    source's nominal rate (0.0 when unknown).
    """

    frame_id: int
    capture_ns: int
    image_bgr: np.ndarray
    source_fps: float

    @property
    def image_size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels."""
        height, width = self.image_bgr.shape[:2]
        return width, height


@dataclass
class Keypoints2D:
    """2D pose of one frame in pixels.

    ``keypoints_px`` ``(17, 2)`` float32 in posecast joint order
    (:data:`posecast.engines.skeleton.JOINT_NAMES`), ``confidence`` ``(17,)`` float32 in [0, 1]
    (MediaPipe visibility), ``landmarks_px`` ``(33, 3)`` float32 raw MediaPipe landmarks
    (x px, y px, z in the units of x: MediaPipe's relative depth times the image width).
    When ``detected`` is False the arrays are zeros.
    """

    frame_id: int
    capture_ns: int
    image_size: tuple[int, int]
    detected: bool
    keypoints_px: np.ndarray
    confidence: np.ndarray
    landmarks_px: np.ndarray
