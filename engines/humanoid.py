"""posecast's 17 joints as Unity humanoid bones (``HumanBodyBones``), for avatars.

Each bone sits at one posecast joint and turns like the body segment it drives (the one that
starts at its joint), relative to the T-pose rest of :mod:`posecast.engines.rotations` (all
identity: VRM's normalised T-pose):

================  =============  ==============  ===========================================
bone              parent         sits at         turns with
================  =============  ==============  ===========================================
Hips              (root)         pelvis          the pelvis frame (hip line, hips plane)
Spine             Hips           spine           spine→thorax (upper torso, shoulder line)
Chest             Spine          thorax          thorax→neck
Neck              Chest          neck            neck→head, turned as the face (the ear line) where known
Head              Neck           head            neck→head (identity on the Neck: it turns there)
Left/RightShoulder  Chest        thorax          thorax→shoulder (clavicle)
Left/RightUpperArm  …Shoulder    shoulder        shoulder→elbow (elbow bend plane)
Left/RightLowerArm  …UpperArm    elbow           elbow→wrist (a hinge)
Left/RightHand      …LowerArm    wrist           identity (the wrist's turn is not seen)
Left/RightUpperLeg  Hips         hip             hip→knee (knee bend plane)
Left/RightLowerLeg  …UpperLeg    knee            knee→ankle (a hinge)
Left/RightFoot      …LowerLeg    ankle           identity (no toes are seen)
================  =============  ==============  ===========================================

Fingers, eyes, jaw, toes and UpperChest are not sent: nothing about them is measured.
A bone's local position is its joint's offset from the parent bone's joint in the parent's
frame, every frame (the subject's own proportions; receivers that keep their avatar's own
proportions use the rotations only), so forward kinematics of the local positions and
rotations gives back all 17 joints exactly (:func:`humanoid_joints`). With the rotations alone on
the T-pose's own offsets (EVMC4U without bone positions), every segment but pelvis→spine points
as published: the Hips turn with the hip line and the hips plane, so pelvis→spine keeps its angle
to the hip line from the T-pose (QA: with each torso bone turning with the segment below it, the
neck leant 11° off, median, on the dance clip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from . import frames, skeleton
from .rotations import BonePose

#: ``(Unity HumanBodyBones name, parent bone or None, joint it sits at, joint whose bone it turns with)``.
HUMANOID_BONES: tuple[tuple[str, str | None, str, str], ...] = (
    ("Hips", None, "pelvis", "pelvis"),
    ("Spine", "Hips", "spine", "thorax"),
    ("Chest", "Spine", "thorax", "neck"),
    ("Neck", "Chest", "neck", "head"),
    ("Head", "Neck", "head", "head"),
    ("LeftShoulder", "Chest", "thorax", "l_shoulder"),
    ("LeftUpperArm", "LeftShoulder", "l_shoulder", "l_elbow"),
    ("LeftLowerArm", "LeftUpperArm", "l_elbow", "l_wrist"),
    ("LeftHand", "LeftLowerArm", "l_wrist", "l_wrist"),
    ("RightShoulder", "Chest", "thorax", "r_shoulder"),
    ("RightUpperArm", "RightShoulder", "r_shoulder", "r_elbow"),
    ("RightLowerArm", "RightUpperArm", "r_elbow", "r_wrist"),
    ("RightHand", "RightLowerArm", "r_wrist", "r_wrist"),
    ("LeftUpperLeg", "Hips", "l_hip", "l_knee"),
    ("LeftLowerLeg", "LeftUpperLeg", "l_knee", "l_ankle"),
    ("LeftFoot", "LeftLowerLeg", "l_ankle", "l_ankle"),
    ("RightUpperLeg", "Hips", "r_hip", "r_knee"),
    ("RightLowerLeg", "RightUpperLeg", "r_knee", "r_ankle"),
    ("RightFoot", "RightLowerLeg", "r_ankle", "r_ankle"),
)
BONE_NAMES: tuple[str, ...] = tuple(b[0] for b in HUMANOID_BONES)
_INDEX = {name: i for i, name in enumerate(BONE_NAMES)}
BONE_PARENTS: tuple[int, ...] = tuple(-1 if p is None else _INDEX[p] for _, p, _, _ in HUMANOID_BONES)
_AT = np.array([skeleton.JOINT_INDEX[b[2]] for b in HUMANOID_BONES])
_TURNS = np.array([skeleton.JOINT_INDEX[b[3]] for b in HUMANOID_BONES])
_CHILD = np.arange(1, len(HUMANOID_BONES))  # every bone but the Hips (bone 0, the only root)
_PARENT = np.array(BONE_PARENTS[1:])
#: For each posecast joint, a bone sitting at it (the first one listed).
JOINT_BONE: tuple[int, ...] = tuple([b[2] for b in HUMANOID_BONES].index(name) for name in skeleton.JOINT_NAMES)


@dataclass(frozen=True)
class HumanoidPose:
    """Local transforms of :data:`BONE_NAMES` in one frame's axes and units, ``F`` frames.

    ``positions`` ``(F, B, 3)``: each bone's position in its parent bone's frame (the Hips':
    relative to the avatar's root, i.e. in the world); ``rotations`` ``(F, B, 4)`` ``(x, y, z, w)``
    local rotations (the Hips': relative to the root).
    """

    positions: np.ndarray
    rotations: np.ndarray


def humanoid_pose(pose: BonePose, frame: frames.Frame) -> HumanoidPose:
    """A world :class:`~posecast.engines.rotations.BonePose` → humanoid local transforms in
    ``frame`` (``frames.get_frame("unity")`` for VMC)."""
    joints = frames.positions_to_frame(pose.joints(), frame)  # (F, 17, 3)
    world = frames.rotations_to_frame(pose.world_rotations(), frame)  # (F, 17, 4)
    at, turns = joints[:, _AT], world[:, _TURNS]  # (F, B, ...)
    positions, rotations = np.full(at.shape, np.nan), np.full(turns.shape, np.nan)
    ok = np.isfinite(turns).all(axis=(1, 2)) & np.isfinite(at).all(axis=(1, 2))
    if ok.any():
        a, t = at[ok], turns[ok]
        inverse = Rotation.from_quat(t[:, _PARENT]).inv()  # (n, B - 1)
        local_rotations = (inverse * Rotation.from_quat(t[:, _CHILD])).as_quat()
        local_positions = inverse.apply(a[:, _CHILD] - a[:, _PARENT])
        positions[ok] = np.concatenate([a[:, :1], local_positions], axis=1)  # the Hips: from the root
        rotations[ok] = np.concatenate([t[:, :1], local_rotations], axis=1)
    return HumanoidPose(positions=positions, rotations=rotations)


def humanoid_forward_kinematics(positions: np.ndarray, rotations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local transforms ``(F, B, 3)``, ``(F, B, 4)`` → each bone's position ``(F, B, 3)`` and
    rotation ``(F, B, 4)`` relative to the avatar's root (what a receiver does)."""
    positions, rotations = np.asarray(positions, np.float64), np.asarray(rotations, np.float64)
    world_pos, world_rot = np.empty_like(positions), np.empty_like(rotations)
    for b, p in enumerate(BONE_PARENTS):  # parents come first in HUMANOID_BONES
        if p < 0:
            world_pos[:, b], world_rot[:, b] = positions[:, b], rotations[:, b]
            continue
        parent = Rotation.from_quat(world_rot[:, p])
        world_pos[:, b] = world_pos[:, p] + parent.apply(positions[:, b])
        world_rot[:, b] = (parent * Rotation.from_quat(rotations[:, b])).as_quat()
    return world_pos, world_rot


def humanoid_joints(bone_positions: np.ndarray) -> np.ndarray:
    """Bone positions ``(F, B, 3)`` (from :func:`humanoid_forward_kinematics`) → posecast joints ``(F, 17, 3)``."""
    return np.asarray(bone_positions)[:, list(JOINT_BONE)]
