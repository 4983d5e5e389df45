"""A take's BVH made the way ``posecast export`` made it before it read takes in passes: the whole
take's arrays at once. The tests compare the export's chunked path with it, and read a take's
world joints, ear lines and limbs seen through it (not posecast's code path any more: a reference)."""

from __future__ import annotations

import numpy as np
from posecast.calibration import floor as floors
from posecast.engines import face, limb_hold, skeleton
from posecast.engines.limb_hold import LimbHoldOptions
from posecast.realtime.recording.arrays import PersonTrack
from posecast.realtime.recording.export import (
    LIMB_HOLD,
    floor_from_feet,
    published_camera_to_world,
    resampled_bvh_pieces,
)
from posecast.realtime.recording.format import TakeClock


def subject_bone_lengths(track: PersonTrack) -> np.ndarray:
    """The subject's bone lengths ``(16,)``: the last the pipeline used (its latest live
    measurement, locked; earlier ones rest on fewer frames), or the median of the joints' own
    when the take has none."""
    recorded = track.bone_lengths_m[np.isfinite(track.bone_lengths_m).all(axis=1)]
    if len(recorded):
        return recorded[-1].astype(np.float64)
    return np.median(skeleton.bone_lengths(track.joints_m[track.posed].astype(np.float64)), axis=0)


def world_joints(recording: TakeClock, track: PersonTrack, lengths_m: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """The track's joints in the world frame ``(F, 17, 3)`` (NaN where no pose), its ear lines
    there ``(F, 3)`` (the head's twist; NaN where the face is not known) and where the floor
    came from."""
    joints = track.joints_m.astype(np.float64)
    transform = published_camera_to_world(recording)
    source = "published by the stream"
    if transform is None:
        transform, source = floor_from_feet(joints, track.confidence, track.posed, lengths_m)
    ear_lines = floors.directions_to_world(face.ear_lines(track.face_m), transform)
    return floors.to_world(joints, transform), ear_lines, source


def limbs_seen(recording: TakeClock, track: PersonTrack, options: LimbHoldOptions) -> np.ndarray:
    """``(F, 8)`` the limb bones (:data:`~posecast.engines.limb_hold.LIMB_JOINTS`) the 2D detector
    saw in each recorded frame, by the frame's own image size (the live avatar's rule; the
    recorded joints are not mirrored, nor is the BVH)."""
    sizes = recording.image_sizes
    seen = np.zeros(track.confidence.shape, bool)
    for size in np.unique(sizes, axis=0):  # (a take's frames are of one size or a few: not a call a frame)
        rows = (sizes == size).all(axis=1)
        seen[rows] = limb_hold.joints_seen(track.keypoints_px[rows], track.confidence[rows],
                                           (int(size[0]), int(size[1])), options)  # fmt: skip
    return limb_hold.limb_bones_seen(seen)


def resampled_bvh(joints_world: np.ndarray, times_s: np.ndarray, fps: float, frame: str,
                  lengths_m: np.ndarray, ear_lines: np.ndarray, limbs: np.ndarray | None = None,
                  limb_hold_options: LimbHoldOptions = LIMB_HOLD) -> tuple[str, int, int, int, float]:  # fmt: skip
    """World joints ``(F, 17, 3)`` (NaN without a pose) and ear lines ``(F, 3)`` (the head's twist,
    NaN where not known) stamped ``times_s`` ``(F,)``, the limb bones ``limbs`` ``(F, 8)`` not seen
    held as ``limb_hold_options`` say (``None``: none; :func:`limbs_seen`) → (BVH text
    in ``frame`` at ``fps`` on the take's uniform grid, its frame count, how many hold a pose:
    more than half a frame from the pose they show, the gaps held for :data:`MAX_HELD_S` only and
    the seconds that left out; the grid's last time may be that close past the take's last frame)."""
    pieces, frames, held, shortened, shortened_s = resampled_bvh_pieces(
        joints_world, times_s, fps, frame, lengths_m, ear_lines, limbs, limb_hold_options)  # fmt: skip
    return "".join(pieces), frames, held, shortened, shortened_s
