"""How far bones turn from frame to frame: the limb-hold and never-seen-legs tests' measure, of
rotations and of a BVH file's channels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from posecast.engines import bvh_export, skeleton
from posecast.engines.training.data.bvh import parse_bvh
from scipy.spatial.transform import Rotation


def turn_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between rotations ``a`` and ``b`` ``(..., 4)``."""
    return np.degrees((Rotation.from_quat(a).inv() * Rotation.from_quat(b)).magnitude())


def bvh_bone_steps(path: Path, joints: list[int]) -> np.ndarray:
    """``(F - 1, len(joints))`` degrees: each frame's turn of the BVH's bones ending at ``joints``
    (posecast's joint indices) on their parents (their Z-X-Y channels) from the frame before."""
    motion = parse_bvh(path)
    starts = np.cumsum([0, *map(len, motion.channels)])
    quats = []
    for joint in joints:
        k = motion.names.index(bvh_export.BONE_JOINT_NAMES[skeleton.JOINT_NAMES[joint]])
        assert motion.channels[k] == ["Zrotation", "Xrotation", "Yrotation"]
        angles = motion.motion[:, starts[k] : starts[k] + 3]
        quats.append(Rotation.from_euler("ZXY", angles, degrees=True).as_quat())
    stacked = np.stack(quats, axis=1)
    return turn_deg(stacked[:-1], stacked[1:])
