"""``posecast export``'s work: a recorded person as BVH (via :mod:`posecast.engines.bvh_export`)
and as the ``posecast lift`` input.

The recording holds joints in the camera frame; BVH wants a world standing on the floor. The
camera→world transform is the one the stream published (``camera_to_world`` in the meta's
``assumptions``, from ``posecast calibrate floor`` or the live floor estimate) or, when the take
has none, estimated from the recorded feet with :func:`posecast.calibration.floor.estimate_floor`
(origin on the floor below the first root position, y up, z towards the camera).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np

from ...calibration import floor as floors
from ...engines import bvh_export, skeleton
from ...engines import rotations as rot
from ...engines.fileio import atomic_write
from .arrays import PersonTrack, person_track
from .format import Recording, RecordingError

log = logging.getLogger(__name__)

#: The meta ``assumptions`` key of a published camera→world transform (4 × 4, metres).
CAMERA_TO_WORLD_KEY = "camera_to_world"


@dataclass
class BVHExport:
    """What :func:`export_bvh` wrote: ``frames`` (``held`` of them without a pose, holding the
    last one), ``fps``, the bone lengths used and ``max_deviation_m``, the largest distance
    between a joint of the BVH and the recording (frames with a pose), and ``frames_within_1mm``
    (a frame deviates more only where the live pipeline's bone lengths were not yet its last:
    its first seconds of tracking, and before a later live measurement moved them; BVH has one
    set of bone lengths)."""

    path: Path
    person_id: int
    frames: int
    held: int
    fps: float
    bone_lengths_m: np.ndarray
    max_deviation_m: float
    frames_within_1mm: int
    floor_source: str


def published_camera_to_world(recording: Recording) -> np.ndarray | None:
    """The last camera→world transform the stream published, or ``None``: a meta message's
    ``floor.camera_to_world`` (the live floor estimate, used once its state is ``estimated`` or
    ``calibrated``) or ``assumptions.camera_to_world``."""
    for meta in reversed(recording.metas):
        try:
            message = msgpack.unpackb(meta.payload, raw=False)
        except (ValueError, msgpack.UnpackException):
            continue
        if not isinstance(message, dict):
            continue
        assumptions = message.get("assumptions") if isinstance(message.get("assumptions"), dict) else {}
        for floor in (message.get("floor"), assumptions.get("floor"), assumptions):
            if not isinstance(floor, dict) or floor.get("state") in ("assumed", "estimating"):
                continue
            value = floor.get(CAMERA_TO_WORLD_KEY)
            if value is not None and np.asarray(value, dtype=np.float64).shape == (4, 4):
                return np.asarray(value, dtype=np.float64)
    return None


def subject_bone_lengths(track: PersonTrack) -> np.ndarray:
    """The subject's bone lengths ``(16,)``: the last the pipeline used (its latest live
    measurement, locked; earlier ones rest on fewer frames), or the median of the joints' own
    when the take has none."""
    recorded = track.bone_lengths_m[np.isfinite(track.bone_lengths_m).all(axis=1)]
    if len(recorded):
        return recorded[-1].astype(np.float64)
    return np.median(skeleton.bone_lengths(track.joints_m[track.posed].astype(np.float64)), axis=0)


def world_joints(recording: Recording, track: PersonTrack, lengths_m: np.ndarray) -> tuple[np.ndarray, str]:
    """The track's joints in the world frame ``(F, 17, 3)`` (NaN where no pose) and where the
    floor came from."""
    joints = track.joints_m.astype(np.float64)
    transform = published_camera_to_world(recording)
    source = "published by the stream"
    if transform is None:
        height = skeleton.height_from_bone_lengths(lengths_m)
        floor = floors.estimate_floor(joints[track.posed], height)
        first_root = joints[track.posed][0, skeleton.ROOT]
        transform = floors.camera_to_world(floor, first_root)
        source = (
            f"estimated from the recorded feet (camera {floor.camera_height_m:.2f} m up, tilt {floor.tilt_deg:.1f} deg)"
        )
    return floors.to_world(joints, transform), source


def bvh_text(recording: Recording, path: str | Path, frame: str = "world",
             person_id: int | None = None) -> tuple[str, BVHExport]:  # fmt: skip
    """The BVH :func:`export_bvh` writes to ``path``, and what it holds, without writing anything
    (``posecast export`` makes every output before it writes any); raises
    :class:`RecordingError` when there is nothing to export."""
    track = person_track(recording, person_id)
    if not track.posed.any():
        raise RecordingError(f"{recording.path}: person {track.person_id} has no frame with a pose")
    fps = recording.fps
    if not fps > 0:
        raise RecordingError(f"{recording.path}: cannot tell the frame rate (fewer than two frames)")
    lengths = subject_bone_lengths(track)
    joints, floor_source = world_joints(recording, track, lengths)
    text, held = bvh_export.joints_to_bvh(joints, fps, frame, lengths)
    rebuilt = rot.joints_to_rotations(joints[track.posed], lengths).joints()
    deviation = np.linalg.norm(rebuilt - joints[track.posed], axis=-1).max(axis=-1)
    return text, BVHExport(Path(path), track.person_id, len(joints), held, fps, lengths, float(deviation.max()),
                           int((deviation < 1e-3).sum()), floor_source)  # fmt: skip


def export_bvh(recording: Recording, path: str | Path, frame: str = "world", person_id: int | None = None) -> BVHExport:
    """Write one person of ``recording`` as BVH in ``frame`` (``engines.frames`` names), atomically;
    raises :class:`RecordingError` when there is nothing to export."""
    text, done = bvh_text(recording, path, frame, person_id)
    atomic_write(path, text.encode())
    return done
