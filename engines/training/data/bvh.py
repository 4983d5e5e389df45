"""BVH motion capture files → posecast's 17 joints in metres.

Reads any BVH whose joints carry 3 (rotation) or 6 (position + rotation) channels, in any
rotation order, and maps known skeletons onto posecast's joints with
:func:`posecast.engines.skeleton.from_mocap` (the definition the live path uses too).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import joint_limits, metrics, skeleton
from ...errors import PosecastError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkeletonMapping:
    """How one mocap skeleton maps onto posecast's joints."""

    name: str
    joints: dict[str, str]  # posecast joint (or "head"/"neck" anchors) → mocap joint name
    metres_per_unit: float
    up_axis: int = 1  # index of the "up" axis in the file (BVH convention: Y)
    #: ear level = skull-base anchor + this × (skull-base anchor − neck anchor); each CMU
    #: conversion names different neck joints, so each gets the factor that puts the head
    #: ≈ 0.23 leg lengths above the shoulder line (Bandai-Namco's 1.0 gives 0.21, MediaPipe's
    #: world landmarks 0.25–0.27, eval/mediapipe_2d.json)
    head_extension: float = skeleton.MOCAP_HEAD_EXTENSION
    #: frames the conversion put before the take (cgspeed's: a T-pose, and in the Daz flavour
    #: 7 more frames easing out of it): dropped on loading
    lead_in_frames: int = 0
    #: more joint names the file must have to be this skeleton (two skeletons may share the
    #: mapped names: posecast's own export uses Mixamo's names, as cgspeed's CMU conversion does)
    signature: tuple[str, ...] = ()


BANDAI_NAMCO = SkeletonMapping(
    name="bandai-namco",
    joints={
        "l_hip": "UpperLeg_L", "r_hip": "UpperLeg_R", "l_knee": "LowerLeg_L", "r_knee": "LowerLeg_R",
        "l_ankle": "Foot_L", "r_ankle": "Foot_R", "l_shoulder": "UpperArm_L", "r_shoulder": "UpperArm_R",
        "l_elbow": "LowerArm_L", "r_elbow": "LowerArm_R", "l_wrist": "Hand_L", "r_wrist": "Hand_R",
        "head": "Head", "neck": "Neck",
    },
    metres_per_unit=0.01,
)  # fmt: skip

# CMU Graphics Lab mocap (../shared/data/cmu-mocap/README.md). CMU's unit is 1/0.45 inch,
# 0.056444 m. The cgspeed MotionBuilder-friendly BVH (31 joints): its "Head" joint sits at the
# top of the lower neck (the conversion folds CMU's thorax bone), "Neck1" at the neck's base.
CMU_UNIT_M = 0.0254 / 0.45
CMU_31 = SkeletonMapping(
    name="cmu-31",
    joints={
        "l_hip": "LeftUpLeg", "r_hip": "RightUpLeg", "l_knee": "LeftLeg", "r_knee": "RightLeg",
        "l_ankle": "LeftFoot", "r_ankle": "RightFoot", "l_shoulder": "LeftArm", "r_shoulder": "RightArm",
        "l_elbow": "LeftForeArm", "r_elbow": "RightForeArm", "l_wrist": "LeftHand", "r_wrist": "RightHand",
        "head": "Head", "neck": "Neck1",
    },
    metres_per_unit=CMU_UNIT_M,
    head_extension=0.75,
    lead_in_frames=1,
)  # fmt: skip

# cgspeed's Daz-friendly BVH (43 joints): one standard figure in centimetres for every subject.
CMU_DAZ = SkeletonMapping(
    name="cmu-daz",
    joints={
        "l_hip": "lThigh", "r_hip": "rThigh", "l_knee": "lShin", "r_knee": "rShin",
        "l_ankle": "lFoot", "r_ankle": "rFoot", "l_shoulder": "lShldr", "r_shoulder": "rShldr",
        "l_elbow": "lForeArm", "r_elbow": "rForeArm", "l_wrist": "lHand", "r_wrist": "rHand",
        "head": "head", "neck": "neck",
    },
    metres_per_unit=0.01,
    head_extension=0.9,
    lead_in_frames=8,
)  # fmt: skip

# CMU's own ASF bone names: raw amc2bvh BVH, and ASF/AMC read by .asf_amc (each bone at its start).
CMU_ASF = SkeletonMapping(
    name="cmu-asf",
    joints={
        "l_hip": "lfemur", "r_hip": "rfemur", "l_knee": "ltibia", "r_knee": "rtibia",
        "l_ankle": "lfoot", "r_ankle": "rfoot", "l_shoulder": "lhumerus", "r_shoulder": "rhumerus",
        "l_elbow": "lradius", "r_elbow": "rradius", "l_wrist": "lwrist", "r_wrist": "rwrist",
        "head": "head", "neck": "upperneck",
    },
    metres_per_unit=CMU_UNIT_M,
    head_extension=0.6,
)  # fmt: skip

# 102_01cc: the 31-joint skeleton renamed (hip, lhip, lknee, ...) and ≈ 9x CMU units.
CMU_102 = SkeletonMapping(
    name="cmu-31-renamed",
    joints={
        "l_hip": "lhip", "r_hip": "rhip", "l_knee": "lknee", "r_knee": "rknee",
        "l_ankle": "lfoot", "r_ankle": "rfoot", "l_shoulder": "lshoulder", "r_shoulder": "rshoulder",
        "l_elbow": "lelbow", "r_elbow": "relbow", "l_wrist": "lhand", "r_wrist": "rhand",
        "head": "head", "neck": "neck1",
    },
    metres_per_unit=CMU_UNIT_M / 9.0,
    head_extension=0.75,
    lead_in_frames=1,
)  # fmt: skip

# posecast's own BVH export (`posecast export --bvh`, world frame: metres, y up): the joints
# are posecast's, the head leaf at the head joint itself; named like Mixamo (and so like
# cgspeed's CMU conversion, told apart by its hip joints), no lead-in frame.
POSECAST_EXPORT = SkeletonMapping(
    name="posecast-export",
    joints=dict(CMU_31.joints),  # the same names, placed at posecast's own joints
    metres_per_unit=1.0,
    head_extension=0.0,
    signature=("LeftHip", "RightHip"),
)  # fmt: skip

MAPPINGS: dict[str, SkeletonMapping] = {
    m.name: m for m in (BANDAI_NAMCO, POSECAST_EXPORT, CMU_31, CMU_DAZ, CMU_ASF, CMU_102)
}


class BVHError(PosecastError, ValueError):
    """A BVH file that cannot be read or mapped (one line for the user, as every PosecastError)."""


@dataclass
class BVHMotion:
    """A parsed BVH clip: joint names, parents, offsets and per-frame channel values."""

    names: list[str]
    parents: list[int]
    offsets: np.ndarray  # (K, 3) file units
    channels: list[list[str]]  # per joint, e.g. ["Xposition", ..., "Yrotation"]
    motion: np.ndarray  # (F, sum of channels)
    frame_time_s: float

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time_s

    def world_positions(self) -> np.ndarray:
        """Forward kinematics: joint positions ``(F, K, 3)`` in file units and axes."""
        frames = self.motion.shape[0]
        world_rot = np.zeros((frames, len(self.names), 3, 3))
        world_pos = np.zeros((frames, len(self.names), 3))
        col = 0
        for k, (parent, chans) in enumerate(zip(self.parents, self.channels, strict=True)):
            local_pos = np.broadcast_to(self.offsets[k], (frames, 3)).copy()
            local_rot = np.broadcast_to(np.eye(3), (frames, 3, 3)).copy()
            for name in chans:
                values = self.motion[:, col]
                col += 1
                axis = "XYZ".index(name[0].upper())
                if name.lower().endswith("position"):
                    local_pos[:, axis] = values
                else:
                    local_rot = local_rot @ _axis_rotation(axis, np.deg2rad(values))
            if parent < 0:
                world_rot[:, k], world_pos[:, k] = local_rot, local_pos
            else:
                world_rot[:, k] = world_rot[:, parent] @ local_rot
                world_pos[:, k] = world_pos[:, parent] + np.einsum("fij,fj->fi", world_rot[:, parent], local_pos)
        return world_pos


def _axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rot = np.zeros((angle.shape[0], 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    rot[:, axis, axis] = 1.0
    rot[:, i, i], rot[:, i, j], rot[:, j, i], rot[:, j, j] = c, -s, s, c
    return rot


def parse_bvh(path: str | Path) -> BVHMotion:
    """Parse a BVH file. Raises :class:`BVHError` naming the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BVHError(f"cannot read BVH file {path}: {exc.strerror}") from exc
    if "MOTION" not in text or "HIERARCHY" not in text:
        raise BVHError(f"{path} is not a BVH file (no HIERARCHY/MOTION sections)")
    try:
        return _parse_bvh_text(path, text)
    except BVHError:
        raise
    except (ValueError, IndexError) as exc:  # a non-numeric value, a cut-off or unbalanced HIERARCHY
        raise BVHError(f"{path}: malformed BVH ({type(exc).__name__}: {exc})") from exc


def _parse_bvh_text(path: Path, text: str) -> BVHMotion:
    head, motion_text = text.split("MOTION", 1)
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    stack: list[int] = []
    tokens = head.split()
    i, pending, in_end_site = 0, -1, False
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            pending = len(names) - 1
            i += 2
        elif tok == "End":
            in_end_site, pending = True, -1
            i += 2
        elif tok == "{":
            stack.append(pending if not in_end_site else -2)
            i += 1
        elif tok == "}":
            if stack and stack.pop() == -2:
                in_end_site = False
            i += 1
        elif tok == "OFFSET":
            if not in_end_site:
                offsets[stack[-1]] = [float(v) for v in tokens[i + 1 : i + 4]]
            i += 4
        elif tok == "CHANNELS":
            count = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2 : i + 2 + count]
            i += 2 + count
        else:
            i += 1
    frames_match = re.search(r"Frames:\s*(\d+)", motion_text)
    time_match = re.search(r"Frame Time:\s*([0-9.eE+-]+)", motion_text)
    if not names or frames_match is None or time_match is None:
        raise BVHError(f"{path}: malformed BVH header (no joints, Frames: or Frame Time:)")
    body = motion_text[time_match.end() :]
    values = np.array(body.split(), dtype=np.float64)
    width = sum(len(c) for c in channels)
    n_frames = int(frames_match.group(1))
    if width == 0 or values.size < n_frames * width:
        raise BVHError(f"{path}: expected {n_frames} frames × {width} channels, found {values.size} values")
    motion = values[: n_frames * width].reshape(n_frames, width)
    return BVHMotion(names, parents, np.asarray(offsets), channels, motion, float(time_match.group(1)))


def detect_mapping(names: list[str]) -> SkeletonMapping:
    """The mapping whose joints all exist in ``names``."""
    have = set(names)
    for mapping in MAPPINGS.values():
        if {*mapping.joints.values(), *mapping.signature} <= have:
            return mapping
    raise BVHError(
        f"unknown BVH skeleton (joints {names[:8]}...); known skeletons: {sorted(MAPPINGS)}. "
        "Add a SkeletonMapping in engines/training/data/bvh.py (posecast's source tree)"
    )


def map_to_joints(world_units: np.ndarray, names: list[str], mapping: SkeletonMapping) -> np.ndarray:
    """Mocap joint positions ``(F, K, 3)`` in file units → posecast joints ``(F, 17, 3)`` in
    metres, Y up (``skeleton.from_mocap``, then the mapping's own head extension), without the
    conversion's lead-in frames."""
    if 0 < mapping.lead_in_frames < len(world_units):
        world_units = world_units[mapping.lead_in_frames :]
    world = world_units * mapping.metres_per_unit
    joints = skeleton.from_mocap(world, names, mapping.joints)
    if mapping.head_extension != skeleton.MOCAP_HEAD_EXTENSION:
        index = {n: i for i, n in enumerate(names)}
        skull = world[..., index[mapping.joints["head"]], :]
        neck = world[..., index[mapping.joints["neck"]], :]
        j = skeleton.JOINT_INDEX
        joints[..., j["head"], :] = skull + mapping.head_extension * (skull - neck)
        joints[..., j["neck"], :] = 0.5 * (joints[..., j["thorax"], :] + joints[..., j["head"], :])
    if mapping.up_axis != 1:
        joints = np.roll(joints, 1 - mapping.up_axis, axis=-1)
    return joints


def load_bvh_joints(path: str | Path, mapping: SkeletonMapping | None = None) -> tuple[np.ndarray, float]:
    """Load a BVH clip as posecast joints ``(F, 17, 3)`` in metres, Y up, and its fps (as the
    file states it: see :mod:`.cmu` for files whose frame time is wrong)."""
    motion = parse_bvh(path)
    mapping = mapping or detect_mapping(motion.names)
    joints = map_to_joints(motion.world_positions(), motion.names, mapping)
    if mapping is POSECAST_EXPORT:
        _check_world_frame(joints, path)
    return joints.astype(np.float32), motion.fps


def _check_world_frame(joints: np.ndarray, path: str | Path) -> None:
    """A posecast export read as the world frame (metres, y up) must look like a person there:
    the other engines' frames (`--frame unreal`: centimetres, z up; `blender`: z up) do not."""
    j = skeleton.JOINT_INDEX
    ankles_y = 0.5 * (joints[:, j["l_ankle"], 1] + joints[:, j["r_ankle"], 1])
    head_up = float(np.median(joints[:, j["head"], 1] - ankles_y))  # about 1.5 for a person standing
    if not 0.5 <= head_up <= 2.5:
        raise BVHError(f"{path} is a posecast export in another engine's axes or units (the head {head_up:.2f} "
                       "above the ankles along y, in file units): export it with --frame world to train on it")
    # a left-handed engine's axes (`--frame unity`) mirror the person: its left joints on the right, so
    # every bent knee bends backwards against the body's facing direction
    bent = metrics.knee_bend_deg(joints) > _BENT_KNEE_DEG
    backwards = joint_limits.knee_backward_deg(joints) > _BENT_KNEE_DEG
    if bent.sum() >= _MIN_BENT_KNEES and backwards.sum() > _MIRRORED_SHARE * bent.sum():
        raise BVHError(f"{path} is a posecast export in a left-handed engine's axes (mirrored: "
                       f"{backwards.sum() / bent.sum():.0%} of its bent knees bend backwards): "
                       "export it with --frame world to train on it")


#: A mirrored export: most knees bent by more than this bend backwards (a person's bend forwards;
#: the live knee limit leaves at most a few degrees backwards).
_BENT_KNEE_DEG = 20.0
_MIN_BENT_KNEES = 10
_MIRRORED_SHARE = 0.75
