"""2D keypoints: MediaPipe Tasks PoseLandmarker (VIDEO mode, CPU, one person) on each frame.

The 33 MediaPipe landmarks are mapped to posecast's 17 joints with
:func:`posecast.engines.skeleton.from_mediapipe`, the one mapping shared with training.
VIDEO mode tracks the person from frame to frame and needs strictly increasing timestamps in
milliseconds: they come from each frame's ``capture_ns`` (or, with ``video_time``, from
``frame_id / source_fps``), bumped by 1 ms when two frames fall in the same millisecond.
MediaPipe smooths landmarks over time using these timestamps, so ``video_time`` makes results
on a file independent of how fast it is read (use it for offline processing).

MediaPipe's native libraries (glog, absl, TF Lite/LiteRT) write INFO and WARNING lines
straight to file descriptor 2 when the model loads and on the first frames. Unless
``verbose``, fd 2 points to ``/dev/null`` during those moments; Python logging keeps writing to
the real terminal meanwhile, and fd 2 is restored afterwards.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..engines import skeleton
from ..engines.assets import ensure_asset
from ..engines.errors import ModelError
from .errors import OptionsError
from .types import Frame, Keypoints2D

log = logging.getLogger(__name__)

MODEL_VARIANTS = ("lite", "full", "heavy")
#: Calls to ``process`` after (re)creating the landmarker during which native output is muted.
_QUIET_CALLS = 5


@dataclass
class Keypoints2DOptions:
    """``model_variant`` picks the cached ``pose_landmarker_<variant>`` asset unless
    ``model_path`` names a ``.task`` file; the confidences are MediaPipe's thresholds in [0, 1];
    ``verbose`` lets MediaPipe's native log lines through; ``video_time`` takes timestamps from
    ``frame_id / source_fps`` instead of ``capture_ns`` (deterministic on files)."""

    model_variant: str = "full"
    model_path: str | Path | None = None
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    min_tracking_confidence: float = 0.5
    verbose: bool = False
    video_time: bool = False

    def __post_init__(self) -> None:
        if self.model_variant not in MODEL_VARIANTS:
            raise OptionsError(f"model_variant must be one of {', '.join(MODEL_VARIANTS)}, got {self.model_variant!r}")
        for name in ("min_detection_confidence", "min_presence_confidence", "min_tracking_confidence"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise OptionsError(f"{name} must be between 0 and 1, got {value}")


class Keypoints2DEstimator:
    """Pipeline stage: :class:`Frame` → :class:`Keypoints2D`.

    The model is resolved (and downloaded if needed) in the constructor, which raises
    :class:`~posecast.engines.errors.AssetError` when it cannot be obtained and
    :class:`~posecast.engines.errors.ModelError` when the file is not a usable model.
    ``process`` blocks for one inference (tens of ms on a CPU core).
    """

    def __init__(self, options: Keypoints2DOptions | None = None) -> None:
        self.options = options or Keypoints2DOptions()
        name = f"pose_landmarker_{self.options.model_variant}"
        # A user's own .task file is not checked against the pinned checksum (newer MediaPipe
        # releases are welcome); MediaPipe itself rejects a file that is not a model.
        # The cached copy is checked (a corrupt download is fetched again).
        self.model_path = ensure_asset(name, self.options.model_path, verify=self.options.model_path is None)
        self._landmarker = None
        self._calls_since_create = 0
        self._last_timestamp_ms = -1
        self._create()

    def _create(self) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        o = self.options
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path), delegate=BaseOptions.Delegate.CPU),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=1,
            min_pose_detection_confidence=o.min_detection_confidence,
            min_pose_presence_confidence=o.min_presence_confidence,
            min_tracking_confidence=o.min_tracking_confidence,
        )
        try:
            with quiet_native_stderr(not o.verbose):
                self._landmarker = vision.PoseLandmarker.create_from_options(options)
                log.debug("MediaPipe PoseLandmarker loaded from %s", self.model_path)
        except (RuntimeError, ValueError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(
                f"MediaPipe could not load {self.model_path} ({reason}): expected a pose_landmarker .task "
                "file; delete it to download it again, or pass another model file"
            ) from exc
        self._calls_since_create = 0

    def _timestamp_ms(self, frame: Frame) -> int:
        if self.options.video_time and frame.source_fps > 0:
            timestamp_ms = round(frame.frame_id * 1000.0 / frame.source_fps)
        else:
            timestamp_ms = frame.capture_ns // 1_000_000
        timestamp_ms = max(timestamp_ms, self._last_timestamp_ms + 1)
        self._last_timestamp_ms = timestamp_ms
        return timestamp_ms

    def process(self, frame: Frame) -> Keypoints2D:
        """Detect the pose in ``frame`` (``image_bgr`` ``(H, W, 3)`` uint8)."""
        import mediapipe as mp

        if self._landmarker is None:
            self._create()
        height, width = frame.image_bgr.shape[:2]
        rgb = cv2.cvtColor(frame.image_bgr, cv2.COLOR_BGR2RGB)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        timestamp_ms = self._timestamp_ms(frame)
        quiet = not self.options.verbose and self._calls_since_create < _QUIET_CALLS
        with quiet_native_stderr(quiet):
            result = self._landmarker.detect_for_video(image, timestamp_ms)
        self._calls_since_create += 1
        return _to_keypoints(frame, (width, height), result.pose_landmarks)

    def reset(self) -> None:
        """Forget the tracked person (e.g. between clips): the landmarker is created anew."""
        self.close()
        self._last_timestamp_ms = -1
        self._create()

    def close(self) -> None:
        if self._landmarker is not None:
            with quiet_native_stderr(not self.options.verbose):
                self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> Keypoints2DEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def landmarks_to_array(landmarks, image_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """MediaPipe ``NormalizedLandmark`` list → pixels ``(33, 3)`` (x, y, z·width) and
    visibility ``(33,)``, both float32."""
    width, height = image_size
    values = np.array(
        [(lm.x, lm.y, lm.z, lm.visibility if lm.visibility is not None else 0.0) for lm in landmarks],
        dtype=np.float64,
    )
    pixels = values[:, :3] * np.array([width, height, width], dtype=np.float64)
    return pixels.astype(np.float32), values[:, 3].astype(np.float32)


def _to_keypoints(frame: Frame, image_size: tuple[int, int], poses: list) -> Keypoints2D:
    if not poses:
        return Keypoints2D(
            frame_id=frame.frame_id,
            capture_ns=frame.capture_ns,
            image_size=image_size,
            detected=False,
            keypoints_px=np.zeros((skeleton.NUM_JOINTS, 2), np.float32),
            confidence=np.zeros(skeleton.NUM_JOINTS, np.float32),
            landmarks_px=np.zeros((33, 3), np.float32),
        )
    landmarks_px, visibility = landmarks_to_array(poses[0], image_size)
    return Keypoints2D(
        frame_id=frame.frame_id,
        capture_ns=frame.capture_ns,
        image_size=image_size,
        detected=True,
        keypoints_px=skeleton.from_mediapipe(landmarks_px[:, :2]),
        confidence=skeleton.from_mediapipe(visibility[:, None])[:, 0],
        landmarks_px=landmarks_px,
    )


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Point file descriptor 2 at ``/dev/null`` for the block, so native libraries' log lines
    vanish, while Python's logging handlers that wrote to stderr keep writing to the real one."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (e.g. a closed stderr): nothing to hide
        yield
        return
    real_stderr = io.TextIOWrapper(io.FileIO(saved_fd, "w", closefd=False), write_through=True)
    moved = _point_stderr_handlers_at(real_stderr)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved_fd, 2)
        os.close(devnull)
        for handler, stream in moved:
            handler.setStream(stream)
        real_stderr.flush()
        os.close(saved_fd)


def _point_stderr_handlers_at(stream: io.TextIOBase) -> list[tuple[logging.StreamHandler, object]]:
    """Re-point every logging StreamHandler that writes to fd 2 at ``stream``; returns what
    to restore."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    moved = []
    for handler in {h for lg in loggers for h in lg.handlers}:
        if type(handler) is not logging.StreamHandler:
            continue
        try:
            writes_to_fd2 = handler.stream.fileno() == 2
        except (AttributeError, OSError, ValueError):
            writes_to_fd2 = False
        if writes_to_fd2:
            moved.append((handler, handler.setStream(stream)))
    return moved
