"""``posecast lift``'s work: a recorded 2D sequence (.npz) → metric 3D, through the live lifting stage.

The frames go through the same :class:`~posecast.realtime.lifting.MetricPoseLifting` as the
live pipeline (one person, the posecast-17 layout, fixed intrinsics, no gap restarts), so
offline and live 3D are made the same way. Formats are in the README ("Offline lifting").
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ..calibration import DEFAULT_HEIGHT_M
from ..engines import skeleton
from ..engines.fileio import atomic_path
from .errors import SourceError
from .layouts import POSECAST_17
from .lifting import LifterOptions, LiftingOptions, MetricPoseLifting
from .progress import progress
from .types import Detections2D

log = logging.getLogger(__name__)


def lift_file(input_path: Path, output_path: Path, height_m: float | None, lifter: LifterOptions) -> int:
    """Lift ``input_path`` into ``output_path`` (written whole or not at all); returns the frames."""
    keypoints, confidence, intrinsics, fps = read_lift_input(input_path)
    folder = output_path.resolve().parent
    if output_path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        raise SourceError(f"cannot write {output_path}: folder {folder} does not exist or is not writable")
    options = LiftingOptions(lifter=lifter, fixed_intrinsics=tuple(float(v) for v in intrinsics), height_m=height_m,
                             max_gap_s=None)  # fmt: skip
    joints, joints_rel, valid = lift_sequence(keypoints, confidence, fps, options)
    arrays = {
        "joints_3d": joints.astype(np.float32),
        "joints_3d_rel": joints_rel.astype(np.float32),
        "joint_names": np.array(skeleton.JOINT_NAMES),
        "fps": fps,
        "height_m": height_m or DEFAULT_HEIGHT_M,
    }
    with atomic_path(output_path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    log.info("lifted %d frames (%d without a person) → %s", len(keypoints), int((~valid).sum()), output_path)
    return len(keypoints)


def lift_sequence(
    keypoints: np.ndarray, confidence: np.ndarray, fps: float, options: LiftingOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``keypoints`` ``(F, 17, 2)`` pixels, ``confidence`` ``(F, 17)`` → joints ``(F, 17, 3)`` metres in
    the camera frame, root-relative joints ``(F, 17, 3)`` (NaN without a person) and the frames
    with a person ``(F,)``."""
    frames = len(keypoints)
    joints = np.full((frames, skeleton.NUM_JOINTS, 3), np.nan)
    joints_rel = np.full_like(joints, np.nan)
    valid = np.isfinite(keypoints).all(axis=(1, 2)) & (confidence.max(axis=1) > 0)
    lifting = MetricPoseLifting(options)
    try:
        for f in progress(range(frames), frames, "lifting"):  # a bar on a terminal, nothing in logs
            n = int(valid[f])  # a frame with no person: like a lost track live
            timestamp_ns = int(f * 1e9 / fps)
            detections = Detections2D(f, timestamp_ns, timestamp_ns, (0, 0), POSECAST_17, keypoints[f : f + n],
                                      confidence[f : f + n], np.full(n, -1, np.int64))  # fmt: skip
            for person in lifting.process(detections, timestamp_ns):
                if person.joints_m is not None:
                    joints[f], joints_rel[f] = person.joints_m, person.joints_rel_m
    finally:
        lifting.close()
    return joints, joints_rel, valid


def read_lift_input(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """``keypoints_2d`` ``(F, 17, 2)``, ``confidence`` ``(F, 17)``, ``intrinsics`` ``(4,)``, ``fps``
    from an .npz; raises :class:`SourceError` naming what is wrong."""
    if not path.is_file():
        raise SourceError(f"lift input {path} not found: expected an .npz with keypoints_2d and intrinsics")
    try:
        data = np.load(path)
        keys = set(data.files)
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read {path} as .npz ({exc}); save it with numpy.savez") from exc
    missing = {"keypoints_2d", "intrinsics"} - keys
    if missing:
        raise SourceError(f"{path} lacks arrays {sorted(missing)}: expected keypoints_2d (F,17,2) pixels and "
                          "intrinsics (fx, fy, cx, cy)")  # fmt: skip
    keypoints = np.asarray(data["keypoints_2d"], dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (skeleton.NUM_JOINTS, 2):
        raise SourceError(f"{path}: keypoints_2d must be (F, 17, 2) pixels in posecast joint order, got "
                          f"{keypoints.shape}")  # fmt: skip
    intrinsics = np.asarray(data["intrinsics"], dtype=np.float64).reshape(-1)
    if intrinsics.shape != (4,) or not np.all(intrinsics[:2] > 0):
        raise SourceError(f"{path}: intrinsics must be 4 numbers fx, fy, cx, cy with fx, fy > 0, got {intrinsics}")
    confidence = (
        np.asarray(data["confidence"], dtype=np.float64) if "confidence" in keys else np.ones(keypoints.shape[:2])
    )
    if confidence.shape != keypoints.shape[:2]:
        raise SourceError(f"{path}: confidence must be (F, 17) like keypoints_2d, got {confidence.shape}")
    fps = float(data["fps"]) if "fps" in keys else 30.0
    return keypoints, confidence, intrinsics, fps
