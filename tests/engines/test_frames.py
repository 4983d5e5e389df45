"""Engine coordinate frames (engines/frames.py): handedness, a known pose in each frame, units,
rotations consistent with positions, the round trip back, the camera frame and the mirror."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from posecast.engines import frames as fr
from posecast.engines import rotations as rot
from posecast.engines import skeleton
from scipy.spatial.transform import Rotation

J = skeleton.JOINT_INDEX
LENGTHS = skeleton.bone_lengths_from_height(1.70)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

#: frame → (handedness, up axis, subject's left, subject's front, units per metre)
EXPECTED = {
    "world": ("right", [0, 1, 0], [1, 0, 0], [0, 0, 1], 1.0),
    "unity": ("left", [0, 1, 0], [-1, 0, 0], [0, 0, 1], 1.0),
    "unreal": ("left", [0, 0, 1], [0, -1, 0], [1, 0, 0], 100.0),
    "godot": ("right", [0, 1, 0], [1, 0, 0], [0, 0, 1], 1.0),
    "blender": ("right", [0, 0, 1], [1, 0, 0], [0, -1, 0], 1.0),
}


def standing_person() -> np.ndarray:
    """A person on the floor in front of the camera, facing it, world frame ``(1, 17, 3)``:
    arms down, the left forearm raised straight forward, the right hand above the head."""
    joints = rot.rest_pose(LENGTHS).copy()
    joints += [0.2, 0.95, 0.4]  # pelvis 0.95 m above the floor
    length = dict(zip(skeleton.BONE_NAMES, LENGTHS, strict=True))
    for side in "lr":
        shoulder = joints[J[f"{side}_shoulder"]]
        joints[J[f"{side}_elbow"]] = shoulder - [0, length[f"{side}_shoulder-{side}_elbow"], 0]
    joints[J["l_wrist"]] = joints[J["l_elbow"]] + [0, 0, length["l_elbow-l_wrist"]]  # forward
    joints[J["r_elbow"]] = joints[J["r_shoulder"]] + [0, length["r_shoulder-r_elbow"], 0]
    joints[J["r_wrist"]] = joints[J["r_elbow"]] + [0, length["r_elbow-r_wrist"], 0]  # up
    return joints[None]


def walk() -> np.ndarray:
    from posecast.engines.training.data.bvh import load_bvh_joints

    joints, _ = load_bvh_joints(FIXTURES / "cmu" / "08_04.bvh")
    return joints[1::6]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_handedness_and_a_known_pose(name: str) -> None:
    frame = fr.get_frame(name)
    hand, up, left, front, units = EXPECTED[name]
    assert frame.handedness == hand
    assert np.isclose(np.linalg.det(frame.axes), 1.0 if hand == "right" else -1.0)
    assert frame.describe()["handedness"] == hand and frame.units_per_m == units
    p = fr.positions_to_frame(standing_person(), frame)[0]
    head, ankle = p[J["head"]], 0.5 * (p[J["l_ankle"]] + p[J["r_ankle"]])
    # the head is up, along the engine's up axis, by the ankle-to-head distance in its units
    assert np.allclose(head - ankle, np.dot(head - ankle, up) * np.asarray(up))
    rest = rot.rest_pose(LENGTHS)
    assert np.dot(head - ankle, up) == pytest.approx(units * (rest[J["head"], 1] - rest[J["l_ankle"], 1]))
    # left hand on the subject's left; the left forearm points to the subject's front
    assert np.dot(p[J["l_wrist"]] - p[J["r_wrist"]], left) > 0.2 * units
    assert np.allclose(p[J["l_wrist"]] - p[J["l_elbow"]], units * LENGTHS[J["l_wrist"] - 1] * np.asarray(front))
    # the raised right hand is above the head
    assert np.dot(p[J["r_wrist"]] - head, up) > 0.3 * units
    # the subject's left = up x front in a right-handed frame, front x up in a left-handed one
    cross = np.cross(up, front) if hand == "right" else np.cross(front, up)
    assert np.allclose(cross, left)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_rotations_follow_the_positions_and_come_back(name: str) -> None:
    frame = fr.get_frame(name)
    joints = walk()
    pose = rot.joints_to_rotations(joints)
    framed = fr.bone_pose_to_frame(pose, frame)
    # forward kinematics in the engine's axes and units gives the engine's positions
    assert (
        np.abs(framed.joints(frame.rest_directions) - fr.positions_to_frame(joints, frame)).max()
        < 1e-9 * frame.units_per_m
    )
    # every rotation is proper (det +1) and the round trip restores the world
    matrices = Rotation.from_quat(framed.rotations.reshape(-1, 4)).as_matrix()
    assert np.allclose(np.linalg.det(matrices), 1.0)
    assert np.abs(fr.positions_from_frame(fr.positions_to_frame(joints, frame), frame) - joints).max() < 1e-12
    back = fr.rotations_from_frame(framed.rotations, frame)
    assert (Rotation.from_quat(back).inv() * Rotation.from_quat(pose.rotations)).magnitude().max() < 1e-9


def test_unity_quaternion_sign_pattern() -> None:
    """x -> -x: a rotation's axis (a pseudovector) keeps x and flips y and z."""
    q = Rotation.from_euler("xyz", [20, -35, 50], degrees=True).as_quat()
    u = fr.rotations_to_frame(q, fr.get_frame("unity"))
    assert np.allclose(u * np.sign(u[3]), q * np.sign(q[3]) * [1, -1, -1, 1])


def test_camera_frame_round_trip() -> None:
    """World ↔ camera with a tilted camera 1.5 m above the floor: the camera's own points come back,
    and the camera frame keeps right-handedness."""
    tilt = Rotation.from_euler("x", 200, degrees=True)  # level camera looking at -z_world, tipped 20 deg down
    camera_to_world = np.eye(4)
    camera_to_world[:3, :3] = tilt.as_matrix()
    camera_to_world[:3, 3] = [0.1, 1.5, 3.0]
    frame = fr.get_frame("camera", camera_to_world)
    assert frame.handedness == "right"
    world = standing_person()[0]
    cam = fr.positions_to_frame(world, frame)
    assert np.allclose(cam @ camera_to_world[:3, :3].T + camera_to_world[:3, 3], world)
    assert np.all(cam[:, 2] > 1.5)  # in front of the camera
    assert cam[J["head"], 1] < cam[J["l_ankle"], 1]  # head above the feet: smaller y (y down)
    pose = rot.joints_to_rotations(world[None])
    framed = fr.bone_pose_to_frame(pose, frame)
    assert np.allclose(framed.joints(frame.rest_directions)[0], cam)


def test_mirror_is_a_body_and_commutes_with_rotations() -> None:
    joints = standing_person()
    mirrored = fr.mirror_joints(joints)
    # the raised right hand becomes a raised left hand, on the same (camera's) side as in a mirror
    assert mirrored[0, J["l_wrist"], 1] > mirrored[0, J["head"], 1]
    assert mirrored[0, J["l_wrist"], 0] == pytest.approx(-joints[0, J["r_wrist"], 0])
    assert np.allclose(fr.mirror_joints(mirrored), joints)
    assert np.allclose(skeleton.bone_lengths(mirrored), skeleton.bone_lengths(joints))
    moving = walk()
    from_rotations = fr.mirror_bone_pose(rot.joints_to_rotations(moving))
    from_joints = rot.joints_to_rotations(fr.mirror_joints(moving))
    assert (
        Rotation.from_quat(from_rotations.rotations).inv() * Rotation.from_quat(from_joints.rotations)
    ).magnitude().max() < 1e-9
    assert np.abs(from_rotations.joints() - fr.mirror_joints(moving)).max() < 1e-9


def test_frame_errors_name_the_choices() -> None:
    with pytest.raises(fr.FrameError, match="unity, unreal"):
        fr.get_frame("maya")
    with pytest.raises(fr.FrameError, match="camera->world"):
        fr.get_frame("camera")
    with pytest.raises(ValueError, match="orthonormal"):
        fr.Frame("bad", np.diag([1.0, 2.0, 1.0]))
