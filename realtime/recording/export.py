"""``posecast export``'s work: a recorded person as BVH (via :mod:`posecast.engines.bvh_export`)
and as the ``posecast lift`` input.

The recording holds joints in the camera frame; BVH wants a world standing on the floor. The
camera→world transform is the one the stream published (``camera_to_world`` in the meta's
``assumptions``, from ``posecast calibrate floor`` or the live floor estimate) or, when the take
has none, estimated from the recorded feet with :func:`posecast.calibration.floor.estimate_floor`
(origin on the floor below the first root position, y up, z towards the camera).

BVH has one frame time, a live take has none: its frames were stamped as a camera or stream
delivered them and the pipeline kept up (steps of one or two source frames, stalls). Such a take
is resampled onto a uniform grid at its rate (:attr:`Recording.fps`: the median step) from its
first frame to its last, so that the BVH lasts as long as the take: each bone's rotation
interpolated by Slerp, the root linearly, between the two recorded poses around each grid time,
and the last pose held across a gap longer than :data:`MAX_INTERPOLATED_GAP_S`. A take already
on such a grid (a file: media time) keeps its frames as they are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import msgpack
import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from ...calibration import floor as floors
from ...engines import bvh_export, skeleton
from ...engines import frames as engine_frames
from ...engines import rotations as rot
from ...engines.fileio import atomic_write
from .arrays import PersonTrack, person_track
from .format import Recording, RecordingError

log = logging.getLogger(__name__)

#: The meta ``assumptions`` key of a published camera→world transform (4 × 4, metres).
CAMERA_TO_WORLD_KEY = "camera_to_world"
#: The longest time between two recorded poses that a resampled BVH interpolates across, in
#: seconds; across a longer gap (a stall, a long dropout) it holds the last pose, making up no
#: motion that was not seen. The live window bridges as long a gap (``LiftingOptions.max_gap_s``).
MAX_INTERPOLATED_GAP_S = 0.5
#: A recorded frame this close to its grid time, in frames, is on the grid (a file's media time
#: is within a nanosecond).
ON_GRID_FRAMES = 0.01


@dataclass
class BVHExport:
    """What :func:`export_bvh` wrote: ``frames`` at ``fps`` (``held`` of them hold the last pose:
    no pose there, or a gap too long to interpolate), made from ``recorded_frames`` (``posed`` of
    them with a pose) lasting ``duration_s``; ``resampled`` when the take was not on a uniform
    grid (a live take; module docstring). The bone lengths used and ``max_deviation_m``, the
    largest distance between a joint of the BVH's skeleton and the recording (recorded frames
    with a pose), and ``frames_within_1mm`` of them (a frame deviates more only where the live
    pipeline's bone lengths were not yet its last: its first seconds of tracking, and before a
    later live measurement moved them; BVH has one set of bone lengths)."""

    path: Path
    person_id: int
    frames: int
    held: int
    fps: float
    bone_lengths_m: np.ndarray
    max_deviation_m: float
    frames_within_1mm: int
    floor_source: str
    recorded_frames: int = 0
    posed: int = 0
    duration_s: float = 0.0
    resampled: bool = False

    def summary(self) -> str:
        """What the frames are, for ``posecast export``'s line: ``"332 frames at 51.5 fps
        (resampled: 240 recorded frames → 332 at 51.5 fps, the take's 6.45 s)"``."""
        text = f"{self.frames} frames at {self.fps:g} fps"
        if self.resampled:
            text += (f" (resampled: {self.recorded_frames} recorded frames → {self.frames} at {self.fps:.3g} fps, "
                     f"the take's {self.duration_s:.2f} s)")  # fmt: skip
        return text


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


def increasing(times_s: np.ndarray) -> np.ndarray:
    """``(F,)`` True for the frames whose time is before every later frame's: a strictly
    increasing subsequence (of two frames stamped alike the later stays, as in the live window;
    frames a clock going backwards overtook are left out)."""
    later_min = np.minimum.accumulate(np.append(np.asarray(times_s, np.float64), np.inf)[::-1])[::-1]
    return times_s < later_min[1:]


def uniform_grid_s(times_s: np.ndarray, fps: float) -> np.ndarray:
    """A uniform grid at ``fps`` from the first of ``times_s`` (ascending, seconds) to (the
    nearest grid time to) the last: its frame count × frame time is the take's duration."""
    count = int(round((times_s[-1] - times_s[0]) * fps)) + 1
    return times_s[0] + np.arange(count) / fps


def on_grid(times_s: np.ndarray, grid_s: np.ndarray, fps: float) -> bool:
    """Whether every recorded time is its grid time (within :data:`ON_GRID_FRAMES`): the take
    needs no resampling."""
    return len(times_s) == len(grid_s) and bool(np.abs(times_s - grid_s).max() <= ON_GRID_FRAMES / fps)


def resample_pose(pose: rot.BonePose, times_s: np.ndarray, grid_s: np.ndarray,
                  max_gap_s: float = MAX_INTERPOLATED_GAP_S) -> tuple[rot.BonePose, np.ndarray]:  # fmt: skip
    """``pose`` (``P`` frames with a pose at strictly increasing ``times_s``, one set of bone
    lengths) at the times ``grid_s`` ``(N,)``: rotations by Slerp, the root linearly, between
    the two poses around each time when they are at most ``max_gap_s`` apart; elsewhere (before
    the first pose, after the last, inside a longer gap) the last pose before it, or the first.
    Returns the pose and ``(N,)`` how far, in seconds, each grid time is from the pose it holds
    (0 where interpolated)."""
    before = np.searchsorted(times_s, grid_s, side="right") - 1  # the last pose at or before each grid time
    last = np.clip(before, 0, len(times_s) - 1)
    after = np.minimum(last + 1, len(times_s) - 1)
    span_s = times_s[after] - times_s[last]
    between = (before >= 0) & (after > last) & (span_s <= max_gap_s)
    # an interpolated grid time reads the poses at its own time, a held one the pose it holds at that pose's time
    read_s = np.where(between, grid_s, times_s[last])
    held_s = np.where(between, 0.0, np.abs(grid_s - times_s[last]))
    root = np.stack([np.interp(read_s, times_s, pose.root_m[:, axis]) for axis in range(3)], axis=1)
    if len(times_s) == 1:
        rotations = np.repeat(pose.rotations, len(grid_s), axis=0)
    else:
        rotations = np.stack([Slerp(times_s, Rotation.from_quat(pose.rotations[:, joint]))(read_s).as_quat()
                              for joint in range(skeleton.NUM_JOINTS)], axis=1)  # fmt: skip
    return rot.BonePose(root_m=root, rotations=rotations, bone_lengths_m=pose.bone_lengths_m), held_s


def resampled_bvh(joints_world: np.ndarray, times_s: np.ndarray, fps: float, frame: str,
                  lengths_m: np.ndarray) -> tuple[str, int, int]:  # fmt: skip
    """World joints ``(F, 17, 3)`` (NaN without a pose) stamped ``times_s`` ``(F,)`` → (BVH text
    in ``frame`` at ``fps`` on the take's uniform grid, its frame count, how many hold a pose:
    more than half a frame from the pose they show; the grid's last time may be that close past the
    take's last frame)."""
    keep = increasing(times_s)
    joints, times_s = joints_world[keep], times_s[keep]
    posed = np.isfinite(joints).all(axis=(1, 2))
    grid_s = uniform_grid_s(times_s, fps)
    pose, held_s = resample_pose(rot.joints_to_rotations(joints[posed], lengths_m), times_s[posed], grid_s)
    target = engine_frames.get_frame(frame)
    text = bvh_export.bvh_text(engine_frames.bone_pose_to_frame(pose, target), fps, target)
    return text, len(grid_s), int((held_s > 0.5 / fps).sum())


def bvh_text(recording: Recording, path: str | Path, frame: str = "world",
             person_id: int | None = None) -> tuple[str, BVHExport]:  # fmt: skip
    """The BVH :func:`export_bvh` writes to ``path``, and what it holds, without writing anything
    (``posecast export`` makes every output before it writes any); raises
    :class:`RecordingError` when there is nothing to export. A take whose frames are not on a
    uniform grid at its rate is resampled onto one (module docstring)."""
    track = person_track(recording, person_id)
    if not track.posed.any():
        raise RecordingError(f"{recording.path}: person {track.person_id} has no frame with a pose")
    fps = recording.fps
    if not fps > 0:
        raise RecordingError(f"{recording.path}: cannot tell the frame rate (fewer than two frames); record a "
                             "longer take")  # fmt: skip
    lengths = subject_bone_lengths(track)
    joints, floor_source = world_joints(recording, track, lengths)
    times_s = (track.timestamp_ns - track.timestamp_ns[0]) / 1e9
    resampled = not on_grid(times_s, uniform_grid_s(times_s, fps), fps)
    if resampled:
        text, frames, held = resampled_bvh(joints, times_s, fps, frame, lengths)
    else:  # one BVH frame per recorded frame, as recorded
        text, held = bvh_export.joints_to_bvh(joints, fps, frame, lengths)
        frames = len(joints)
    rebuilt = rot.joints_to_rotations(joints[track.posed], lengths).joints()
    deviation = np.linalg.norm(rebuilt - joints[track.posed], axis=-1).max(axis=-1)
    return text, BVHExport(Path(path), track.person_id, frames, held, fps, lengths, float(deviation.max()),
                           int((deviation < 1e-3).sum()), floor_source, len(joints), int(track.posed.sum()),
                           recording.duration_s, resampled)  # fmt: skip


def export_bvh(recording: Recording, path: str | Path, frame: str = "world", person_id: int | None = None) -> BVHExport:
    """Write one person of ``recording`` as BVH in ``frame`` (``engines.frames`` names), atomically;
    raises :class:`RecordingError` when there is nothing to export."""
    text, done = bvh_text(recording, path, frame, person_id)
    atomic_write(path, text.encode())
    return done
