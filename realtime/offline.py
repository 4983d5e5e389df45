"""``posecast lift``'s work: a recorded 2D sequence (.npz) → metric 3D, through the live lifting stage.

The frames go through the same :class:`~posecast.realtime.lifting.MetricPoseLifting` as the
live pipeline (one person, the posecast-17 layout, fixed intrinsics, no gap restarts), so
offline and live 3D are made the same way. Formats are in the README ("Offline lifting").
"""

from __future__ import annotations

import logging
import math
import os
import zipfile
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


#: Frame rates accepted from an input file (frames per second).
_FPS_RANGE = (0.1, 1000.0)
#: Keypoints further than this from the image origin, in pixels, are not a detection (a frame with
#: one is a frame without a person); it also keeps every later step far from float overflow.
_MAX_PIXELS = 1e7
#: fx, fy accepted, in pixels (1 allows keypoints already in normalised units with fx = fy = 1).
_FOCAL_RANGE = (1e-3, 1e7)


def output_file(input_path: Path, output_path: Path) -> Path:
    """The file ``posecast lift`` writes: ``output_path``, or ``DIR/<input name>_3d.npz`` when
    it is an existing folder. Raises :class:`SourceError` when its folder cannot be written."""
    if output_path.is_dir():
        output_path = output_path / f"{input_path.stem}_3d.npz"
    folder = output_path.resolve().parent
    if output_path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        problem = "is a folder" if output_path.is_dir() else f"folder {folder} does not exist or is not writable"
        raise SourceError(f"cannot write {output_path}: {problem}; pass --output FILE.npz in a writable folder")
    return output_path


def lift_file(input_path: Path, output_path: Path, height_m: float | None, lifter: LifterOptions) -> int:
    """Lift ``input_path`` into ``output_path`` (a file, or a folder to write ``<input>_3d.npz``
    into; written whole or not at all); returns the frames. Raises :class:`SourceError` for a
    bad input, an unwritable output, or an input in which no frame gives a plausible pose."""
    keypoints, confidence, intrinsics, fps = read_lift_input(input_path)
    output_path = output_file(input_path, output_path)
    options = LiftingOptions(lifter=lifter, fixed_intrinsics=tuple(float(v) for v in intrinsics), height_m=height_m,
                             max_gap_s=None)  # fmt: skip
    joints, joints_rel, valid = lift_sequence(keypoints, confidence, fps, options)
    posed = np.isfinite(joints).all(axis=(1, 2))
    if not posed.any():
        raise SourceError(
            f"no frame of {input_path} gave a plausible pose ({len(keypoints)} frames, {int((~valid).sum())} without "
            "a person): expected keypoints_2d in pixels, in posecast joint order, seen by a camera with these "
            "intrinsics; nothing written"
        )
    arrays = {
        "joints_3d": joints.astype(np.float32),
        "joints_3d_rel": joints_rel.astype(np.float32),
        "joint_names": np.array(skeleton.JOINT_NAMES),
        "fps": fps,
        "height_m": height_m or DEFAULT_HEIGHT_M,
    }
    try:
        with atomic_path(output_path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    except OSError as exc:  # a full disk, a quota: the temporary file is gone, nothing half-written stays
        raise SourceError(f"cannot write {output_path}: {exc.strerror or exc}; nothing written") from exc
    log.info("lifted %d frames (%d without a pose) → %s", len(keypoints), int((~posed).sum()), output_path)
    return len(keypoints)


def lift_sequence(
    keypoints: np.ndarray, confidence: np.ndarray, fps: float, options: LiftingOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``keypoints`` ``(F, 17, 2)`` pixels, ``confidence`` ``(F, 17)`` → joints ``(F, 17, 3)`` metres in
    the camera frame, root-relative joints ``(F, 17, 3)`` (NaN without a pose) and the frames
    with a person ``(F,)`` (finite keypoints within range, some confidence)."""
    frames = len(keypoints)
    joints = np.full((frames, skeleton.NUM_JOINTS, 3), np.nan)
    joints_rel = np.full_like(joints, np.nan)
    in_range = np.abs(np.nan_to_num(keypoints, nan=np.inf)) <= _MAX_PIXELS
    valid = in_range.all(axis=(1, 2)) & (confidence.max(axis=1, initial=0.0) > 0)
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
    """``keypoints_2d`` ``(F, 17, 2)``, ``confidence`` ``(F, 17)`` in [0, 1] (NaN → 0),
    ``intrinsics`` ``(4,)``, ``fps`` from an .npz; raises :class:`SourceError` naming what is wrong.
    The file is read without pickle (an object array is refused, never run)."""
    if not path.is_file():
        raise SourceError(f"lift input {path} not found: expected an .npz with keypoints_2d and intrinsics")
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            raise SourceError(f"{path} holds one array (.npy), not named arrays: save the input with "
                              "numpy.savez(path, keypoints_2d=..., intrinsics=..., fps=...)")  # fmt: skip
        with data:
            arrays = {name: data[name] for name in data.files}
    except SourceError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        # numpy's own words for an empty, truncated or pickled file, on one line
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SourceError(f"cannot read {path} as .npz ({reason}); save it with numpy.savez") from exc
    missing = {"keypoints_2d", "intrinsics"} - set(arrays)
    if missing:
        raise SourceError(f"{path} lacks arrays {sorted(missing)}: expected keypoints_2d (F,17,2) pixels and "
                          "intrinsics (fx, fy, cx, cy)")  # fmt: skip
    keypoints = _numbers(path, "keypoints_2d", arrays["keypoints_2d"])
    if keypoints.ndim != 3 or keypoints.shape[1:] != (skeleton.NUM_JOINTS, 2) or not len(keypoints):
        raise SourceError(f"{path}: keypoints_2d must be (F, 17, 2) pixels in posecast joint order with F >= 1, "
                          f"got shape {keypoints.shape}")  # fmt: skip
    intrinsics = _numbers(path, "intrinsics", arrays["intrinsics"]).reshape(-1)
    low, high = _FOCAL_RANGE
    if intrinsics.shape != (4,) or not (np.isfinite(intrinsics).all() and np.abs(intrinsics[2:]).max() <= _MAX_PIXELS
                                        and all(low <= f <= high for f in intrinsics[:2])):  # fmt: skip
        raise SourceError(f"{path}: intrinsics must be 4 numbers fx, fy, cx, cy, finite, in pixels, with fx, fy in "
                          f"{low:g}..{high:g}, got {_listed(intrinsics)}")  # fmt: skip
    if "confidence" in arrays:
        confidence = _numbers(path, "confidence", arrays["confidence"])
        if confidence.shape != keypoints.shape[:2]:
            raise SourceError(f"{path}: confidence must be (F, 17) like keypoints_2d, got {confidence.shape}")
        confidence = np.clip(np.nan_to_num(confidence, nan=0.0), 0.0, 1.0)
    else:
        confidence = np.ones(keypoints.shape[:2])
    fps = 30.0
    if "fps" in arrays:
        value = _numbers(path, "fps", arrays["fps"])
        fps = float(value.reshape(-1)[0]) if value.size == 1 else math.nan
        if not _FPS_RANGE[0] <= fps <= _FPS_RANGE[1]:
            raise SourceError(f"{path}: fps must be one number from {_FPS_RANGE[0]:g} to {_FPS_RANGE[1]:g}, got "
                              f"{_listed(value)}")  # fmt: skip
    return keypoints, confidence, intrinsics, fps


def _numbers(path: Path, name: str, array: np.ndarray) -> np.ndarray:
    """``array`` as float64, or :class:`SourceError` when it does not hold plain numbers."""
    if array.dtype.kind not in "iuf":
        raise SourceError(f"{path}: {name} must hold numbers, got an array of {array.dtype.name}")
    with np.errstate(over="ignore"):  # float128 beyond float64 becomes inf, refused or unused later
        return np.asarray(array, dtype=np.float64)


def _listed(values: np.ndarray) -> str:
    """A few numbers for a one-line message: ``[623.5, nan, 360, 640]`` or ``[1, 2, 3, ... 100 numbers]``."""
    flat = values.reshape(-1)
    shown = ", ".join(f"{v:g}" for v in flat[:4].tolist())
    return f"[{shown}]" if flat.size <= 4 else f"[{shown}, ... {flat.size} numbers]"
