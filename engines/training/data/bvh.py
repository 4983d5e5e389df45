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

from ... import skeleton

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkeletonMapping:
    """How one mocap skeleton maps onto posecast's joints."""

    name: str
    joints: dict[str, str]  # posecast joint (or "head"/"neck" anchors) → mocap joint name
    metres_per_unit: float
    up_axis: int = 1  # index of the "up" axis in the file (BVH convention: Y)


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

# CMU Graphics Lab mocap as BVH (the widely used 31-joint conversion); its unit is
# 1/0.45 inch, i.e. 0.056444 m.
CMU_31 = SkeletonMapping(
    name="cmu-31",
    joints={
        "l_hip": "LeftUpLeg", "r_hip": "RightUpLeg", "l_knee": "LeftLeg", "r_knee": "RightLeg",
        "l_ankle": "LeftFoot", "r_ankle": "RightFoot", "l_shoulder": "LeftArm", "r_shoulder": "RightArm",
        "l_elbow": "LeftForeArm", "r_elbow": "RightForeArm", "l_wrist": "LeftHand", "r_wrist": "RightHand",
        "head": "Head", "neck": "Neck1",
    },
    metres_per_unit=0.056444,
)  # fmt: skip

MAPPINGS: dict[str, SkeletonMapping] = {m.name: m for m in (BANDAI_NAMCO, CMU_31)}


class BVHError(ValueError):
    """A BVH file that cannot be read or mapped."""


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
        if set(mapping.joints.values()) <= have:
            return mapping
    raise BVHError(
        f"unknown BVH skeleton (joints {names[:8]}...); known skeletons: {sorted(MAPPINGS)}. "
        "Add a SkeletonMapping in posecast/engines/data/bvh.py"
    )


def load_bvh_joints(path: str | Path, mapping: SkeletonMapping | None = None) -> tuple[np.ndarray, float]:
    """Load a BVH clip as posecast joints ``(F, 17, 3)`` in metres, Y up, and its fps."""
    motion = parse_bvh(path)
    mapping = mapping or detect_mapping(motion.names)
    world = motion.world_positions() * mapping.metres_per_unit
    joints = skeleton.from_mocap(world, motion.names, mapping.joints)
    if mapping.up_axis != 1:
        joints = np.roll(joints, 1 - mapping.up_axis, axis=-1)
    return joints.astype(np.float32), motion.fps
