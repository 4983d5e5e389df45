"""Unity humanoid bones (engines/humanoid.py): the hierarchy, exact forward kinematics back to the
17 joints in every engine frame, unseen bones at identity, a known pose's local rotations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from posecast.engines import frames, humanoid, rotations, skeleton
from scipy.spatial.transform import Rotation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
J = skeleton.JOINT_INDEX


def walk() -> np.ndarray:
    from posecast.engines.training.data.bvh import load_bvh_joints

    joints, _ = load_bvh_joints(FIXTURES / "cmu" / "49_04.bvh")
    return joints[1::4]


def test_hierarchy_is_unitys() -> None:
    assert len(humanoid.BONE_NAMES) == 19 and humanoid.BONE_PARENTS[0] == -1
    assert all(p < b for b, p in enumerate(humanoid.BONE_PARENTS))  # parents first
    parent = {
        b: humanoid.BONE_NAMES[p] for b, p in zip(humanoid.BONE_NAMES, humanoid.BONE_PARENTS, strict=True) if p >= 0
    }
    assert parent["LeftUpperArm"] == "LeftShoulder" and parent["LeftShoulder"] == "Chest"
    assert parent["RightUpperLeg"] == "Hips" and parent["Head"] == "Neck" and parent["Chest"] == "Spine"
    # every posecast joint has a bone at it
    sits = [humanoid.HUMANOID_BONES[b][2] for b in humanoid.JOINT_BONE]
    assert sits == list(skeleton.JOINT_NAMES)


@pytest.mark.parametrize("name", ["unity", "unreal", "godot", "blender", "world"])
def test_forward_kinematics_gives_the_joints_back(name: str) -> None:
    joints = walk()
    frame = frames.get_frame(name)
    pose = humanoid.humanoid_pose(rotations.joints_to_rotations(joints), frame)
    positions, _ = humanoid.humanoid_forward_kinematics(pose.positions, pose.rotations)
    back = frames.positions_from_frame(humanoid.humanoid_joints(positions), frame)
    assert np.abs(back - joints).max() < 1e-9
    for bone in ("LeftHand", "RightHand", "LeftFoot", "RightFoot"):  # not seen: identity
        q = pose.rotations[:, humanoid.BONE_NAMES.index(bone)]
        assert np.allclose(np.abs(q[:, 3]), 1.0)


def test_left_arm_raised_forward_in_unity() -> None:
    lengths = skeleton.bone_lengths_from_height(1.70)
    joints = rotations.rest_pose(lengths)[None].copy()
    upper, fore = lengths[J["l_elbow"] - 1], lengths[J["l_wrist"] - 1]
    joints[0, J["l_elbow"]] = joints[0, J["l_shoulder"]] + [0, 0, upper]  # forward: world +z
    joints[0, J["l_wrist"]] = joints[0, J["l_elbow"]] + [0, 0, fore]
    pose = humanoid.humanoid_pose(rotations.joints_to_rotations(joints), frames.get_frame("unity"))
    q = Rotation.from_quat(pose.rotations[0, humanoid.BONE_NAMES.index("LeftUpperArm")])
    # Unity: the left arm rests along -x; raised forward it points along +z
    assert np.allclose(q.apply([-1.0, 0.0, 0.0]), [0.0, 0.0, 1.0], atol=1e-9)
    others = [b for b in humanoid.BONE_NAMES if b not in ("LeftUpperArm", "Hips")]
    for bone in others:
        assert np.allclose(np.abs(pose.rotations[0, humanoid.BONE_NAMES.index(bone), 3]), 1.0), bone


def _segment_angles_deg(a: np.ndarray, b: np.ndarray, segments: list[tuple[int, int]]) -> np.ndarray:
    """Angle between each ``(parent, child)`` segment of joints ``a`` and ``b`` ``(F, 17, 3)``: ``(F, S)``."""
    u = np.stack([a[:, c] - a[:, p] for p, c in segments], axis=1)
    v = np.stack([b[:, c] - b[:, p] for p, c in segments], axis=1)
    cos = (u * v).sum(-1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


@pytest.mark.parametrize("name", ["unity", "world"])
def test_rotations_alone_on_the_t_pose_point_every_segment_but_the_lower_spine(name: str) -> None:
    """A receiver that keeps its avatar's own offsets (EVMC4U with bone positions off) and applies the
    rotations only: each segment points as published, the lower spine within the hips plane's
    freedom. Before, each torso bone turned with the segment below it: the neck leant 11° off."""
    joints = walk()
    frame = frames.get_frame(name)
    lengths = np.median(skeleton.bone_lengths(joints), axis=0)
    pose = humanoid.humanoid_pose(rotations.joints_to_rotations(joints), frame)
    rest = frames.positions_to_frame(rotations.rest_pose(lengths)[None], frame)[0]  # the avatar's T-pose
    at = [skeleton.JOINT_INDEX[b[2]] for b in humanoid.HUMANOID_BONES]
    offsets = np.array([rest[at[b]] - rest[at[p]] if p >= 0 else np.zeros(3)
                        for b, p in enumerate(humanoid.BONE_PARENTS)])  # fmt: skip
    positions = np.broadcast_to(offsets, pose.positions.shape).copy()
    positions[:, 0] = pose.positions[:, 0]  # the Hips' place is the root's
    bone_positions, _ = humanoid.humanoid_forward_kinematics(positions, pose.rotations)
    avatar = frames.positions_from_frame(humanoid.humanoid_joints(bone_positions), frame)
    segments = [(p, c) for c, p in skeleton.BONES]
    angles = _segment_angles_deg(avatar, joints, segments)
    lower_spine = segments.index((J["pelvis"], J["spine"]))
    others = np.delete(angles, lower_spine, axis=1)
    assert others.max() < 0.1, dict(zip([f"{p}-{c}" for p, c in np.delete(segments, lower_spine, 0)],
                                          others.max(axis=0).round(3), strict=True))  # fmt: skip
    assert np.median(angles[:, lower_spine]) < 10.0
