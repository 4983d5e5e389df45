"""The baseline: MediaPipe's PoseLandmarker alone, as a user would run it without posecast.

Same model file, options and running mode as the pipeline's detector (VIDEO mode, CPU delegate,
``num_poses``, the confidences), but none of posecast's code: BGR → RGB, ``mp.Image``,
``detect_for_video``, then the 2D landmarks (pixels, visibility) and the world landmarks
(metres) copied into numpy arrays, the form any consumer needs them in. Its latency, frame
taken → arrays in hand, is what posecast's capture → delivered is compared with.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..detectors.mediapipe import base_options, import_mediapipe, landmarker_error
from ..detectors.native_locale import c_character_rules
from ..detectors.quiet import quiet_native_stderr
from ..stop_signals import stop_signals_deferred
from ..types import Frame


class MediaPipeAlone:
    """``process(frame) -> people found``: one PoseLandmarker call and its results as arrays."""

    def __init__(self, model_path: str | Path, max_people: int = 1, confidence: float = 0.5,
                 verbose: bool = False) -> None:  # fmt: skip
        import_mediapipe()  # (first: see there)
        from mediapipe.tasks.python import vision

        options = vision.PoseLandmarkerOptions(
            base_options=base_options(model_path),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=max_people,
            min_pose_detection_confidence=confidence,
            min_pose_presence_confidence=confidence,
            min_tracking_confidence=confidence,
        )
        self.verbose = verbose
        try:
            with quiet_native_stderr(not verbose), stop_signals_deferred(), c_character_rules():
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
        except (RuntimeError, ValueError, OSError) as exc:  # OSError: a zip that is not a landmarker bundle
            raise landmarker_error(model_path, exc, given=True, fix="pass another --model-asset",
                                   what=" for the baseline") from exc  # (review: the option was named before)
        self._last_ms = -1
        self._calls = 0
        self.last_result: tuple[np.ndarray, np.ndarray] | None = None

    def process(self, frame: Frame) -> int:
        """Landmarks of ``frame``; returns how many people were found (the arrays are kept in
        :attr:`last_result`: pixels and visibility ``(N, 33, 3)``, world ``(N, 33, 3)``)."""
        mp = import_mediapipe()
        rgb = cv2.cvtColor(frame.image_bgr, cv2.COLOR_BGR2RGB)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        self._last_ms = max(round(frame.timestamp_ns / 1e6), self._last_ms + 1)
        with quiet_native_stderr(not self.verbose and self._calls < 5):
            result = self._landmarker.detect_for_video(image, self._last_ms)
        self._calls += 1
        height, width = rgb.shape[:2]
        image_lm = np.array([[(lm.x * width, lm.y * height, lm.visibility or 0.0) for lm in pose]
                             for pose in result.pose_landmarks], np.float32).reshape(-1, 33, 3)  # fmt: skip
        world = np.array([[(lm.x, lm.y, lm.z) for lm in pose] for pose in result.pose_world_landmarks],
                         np.float32).reshape(-1, 33, 3)  # fmt: skip
        self.last_result = (image_lm, world)
        return len(image_lm)

    def close(self) -> None:
        if self._landmarker is not None:
            with quiet_native_stderr(not self.verbose):
                self._landmarker.close()
            self._landmarker = None
