"""Bone rotations ↔ joints (engines/rotations.py): the rest pose, the round trip through forward
kinematics on real mocap and on a real clip lifted by the shipped model, and the twist rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import rotations as rot
from posecast.engines import skeleton
from scipy.spatial.transform import Rotation

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
J = skeleton.JOINT_INDEX
LENGTHS = skeleton.bone_lengths_from_height(1.70)


def cmu(name: str, step: int = 4) -> np.ndarray:
    """A CMU take of tests/fixtures/cmu as posecast joints ``(F, 17, 3)`` (Y up, metres), the
    added T-pose of frame 1 dropped, 120 fps subsampled by ``step``."""
    from posecast.engines.training.data.bvh import load_bvh_joints

    joints, _ = load_bvh_joints(FIXTURES / "cmu" / f"{name}.bvh")
    return joints[1::step]


def angle_deg(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    return np.degrees((Rotation.from_quat(q_a).inv() * Rotation.from_quat(q_b)).magnitude())


def test_rest_pose_is_a_t_pose_with_identity_rotations() -> None:
    rest = rot.rest_pose(LENGTHS)
    assert np.allclose(rest[J["pelvis"]], 0)
    assert rest[J["head"], 1] > rest[J["thorax"], 1] > 0 > rest[J["l_knee"], 1] > rest[J["l_ankle"], 1]
    assert rest[J["l_wrist"], 0] > rest[J["l_elbow"], 0] > rest[J["l_shoulder"], 0] > 0  # left = +x
    assert rest[J["r_wrist"], 0] < rest[J["r_elbow"], 0] < 0
    assert np.allclose(rest[J["l_wrist"], [1, 2]], [rest[J["thorax"], 1], 0])  # arms level, in the body plane
    assert np.allclose(skeleton.bone_lengths(rest), LENGTHS)
    pose = rot.joints_to_rotations(rest[None] + [0.3, 0.9, -2.0])
    assert np.allclose(pose.rotations, [0, 0, 0, 1], atol=1e-12)
    assert np.allclose(pose.root_m, [[0.3, 0.9, -2.0]])


@pytest.mark.parametrize("take", ["08_04", "49_04"])  # a slow walk; a run and a leap
def test_round_trip_on_mocap(take: str) -> None:
    joints = cmu(take)
    # each frame's own lengths (the derived axial joints make them vary a little in mocap)
    pose = rot.joints_to_rotations(joints)
    assert np.abs(pose.joints() - joints).max() < 1e-9
    # the subject's fixed lengths, as the pipeline publishes them: within 1 mm (in fact exact)
    lengths = np.median(skeleton.bone_lengths(joints), axis=0)
    fixed = skeleton.with_bone_lengths(joints, lengths)
    pose = rot.joints_to_rotations(fixed, lengths)
    assert pose.bone_lengths_m.shape == (16,)
    assert np.linalg.norm(rot.forward_kinematics(pose.root_m, pose.rotations, lengths) - fixed, axis=-1).max() < 1e-6
    assert np.allclose(np.linalg.norm(pose.rotations, axis=-1), 1.0)


@pytest.mark.slow
def test_round_trip_on_a_real_clip_lifted_by_posecast(tmp_path: Path) -> None:
    """The reference MediaPipe 2D of the squats clip through the shipped lifter (``posecast
    lift``): the published joints come back within 1 mm from their rotations and lengths."""
    landmarks = np.asarray(json.loads((FIXTURES / "media" / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    focal = 360 / np.tan(np.radians(30))  # 720 px wide, an assumed 60 degree field of view
    np.savez(
        tmp_path / "in.npz", keypoints_2d=skeleton.from_mediapipe(landmarks)[..., :2].astype(np.float32),
        intrinsics=np.array([focal, focal, 360.0, 640.0]), fps=5.0,
    )  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "posecast.realtime.cli", "lift", "--input", str(tmp_path / "in.npz"),
         "--output", str(tmp_path / "out.npz")], check=True, capture_output=True,
    )  # fmt: skip
    joints = np.load(tmp_path / "out.npz")["joints_3d"]
    assert joints.shape == (65, 17, 3) and np.isfinite(joints).all()
    # the lifter does not keep the pelvis between the hips: one rotation per bone is needed
    hips = joints[:, [J["l_hip"], J["r_hip"]]] - joints[:, [J["pelvis"]]]
    cos = np.einsum("fc,fc->f", hips[:, 0], hips[:, 1]) / np.prod(np.linalg.norm(hips, axis=-1), axis=-1)
    assert np.degrees(np.arccos(-cos)).max() > 1.0
    pose = rot.joints_to_rotations(joints)
    assert np.linalg.norm(pose.joints() - joints, axis=-1).max() < 1e-3
    # once the bone lengths are measured (2 s = 10 frames at 5 fps, again at 4 and 8 s) and reached
    # (at 20 % a second): the last 3 s of the 13 s clip
    late = joints[-15:]
    lengths = skeleton.bone_lengths(late).mean(axis=0)
    assert np.ptp(skeleton.bone_lengths(late), axis=0).max() < 1e-3
    pose = rot.joints_to_rotations(late, lengths)
    assert np.linalg.norm(pose.joints() - late, axis=-1).max() < 1e-3


def test_rotations_are_relative_to_the_body() -> None:
    """Turning and moving the whole body changes the root only; the bones keep their rotations."""
    joints = cmu("08_04", step=8)
    turn = Rotation.from_euler("yxz", [70, 15, -10], degrees=True)
    moved = turn.apply(joints.reshape(-1, 3)).reshape(joints.shape) + [1.0, 0.2, -3.0]
    a, b = rot.joints_to_rotations(joints), rot.joints_to_rotations(moved)
    assert angle_deg(a.rotations[:, 1:], b.rotations[:, 1:]).max() < 1e-6
    assert angle_deg((turn * Rotation.from_quat(a.rotations[:, 0])).as_quat(), b.rotations[:, 0]).max() < 1e-6


def test_knee_and_elbow_are_hinges_about_the_documented_axes() -> None:
    """Bent more than STRAIGHT_LIMB_DEG (straighter limbs follow their bend plane gradually)."""
    pose = rot.joints_to_rotations(cmu("08_04"))
    for shin in ("r_ankle", "l_ankle"):  # about +x, bending the shin backwards (positive angle)
        v = Rotation.from_quat(pose.rotations[:, J[shin]]).as_rotvec()
        bent = np.linalg.norm(v, axis=-1) > np.radians(rot.STRAIGHT_LIMB_DEG + 1)
        assert bent.sum() > 20 and np.degrees(v[:, 0].max()) > 45
        assert np.abs(v[bent][:, 1:]).max() < 1e-6
    for forearm, sign in (("l_wrist", -1), ("r_wrist", 1)):  # about -y (left) / +y (right)
        v = Rotation.from_quat(pose.rotations[:, J[forearm]]).as_rotvec()
        bent = np.linalg.norm(v, axis=-1) > np.radians(rot.STRAIGHT_LIMB_DEG + 1)
        assert bent.sum() > 20 and np.degrees(sign * v[:, 1]).max() > 20
        assert np.abs(v[bent][:, [0, 2]]).max() < 1e-6


def test_a_known_pose() -> None:
    """Left arm straight forward, right knee bent 90 degrees with the thigh horizontal."""
    joints = rot.rest_pose(LENGTHS)[None].copy()
    shoulder = joints[0, J["l_shoulder"]]
    joints[0, J["l_elbow"]] = shoulder + [0, 0, LENGTHS[J["l_elbow"] - 1]]
    joints[0, J["l_wrist"]] = joints[0, J["l_elbow"]] + [0, 0, LENGTHS[J["l_wrist"] - 1]]
    hip = joints[0, J["r_hip"]]
    joints[0, J["r_knee"]] = hip + [0, 0, LENGTHS[J["r_knee"] - 1]]
    joints[0, J["r_ankle"]] = joints[0, J["r_knee"]] + [0, -LENGTHS[J["r_ankle"] - 1], 0]
    pose = rot.joints_to_rotations(joints)
    q = Rotation.from_quat(pose.rotations[0])
    # upper arm: -90 degrees about y takes +x to +z; forearm straight: identity
    assert np.allclose(q[J["l_elbow"]].as_rotvec(), [0, -np.pi / 2, 0], atol=1e-9)
    assert np.allclose(q[J["l_wrist"]].as_rotvec(), 0, atol=1e-9)
    # thigh: -90 degrees about x takes -y to +z; shin: +90 degrees about x (the knee hinge)
    assert np.allclose(q[J["r_knee"]].as_rotvec(), [-np.pi / 2, 0, 0], atol=1e-9)
    assert np.allclose(q[J["r_ankle"]].as_rotvec(), [np.pi / 2, 0, 0], atol=1e-9)
    untouched = [J[n] for n in ("pelvis", "spine", "thorax", "neck", "head", "l_knee", "l_ankle", "r_elbow")]
    assert np.allclose(pose.rotations[0, untouched], [0, 0, 0, 1], atol=1e-9)


def test_a_nearly_straight_arm_does_not_flip() -> None:
    """A straight arm has no bend plane: noise on it gives small twists, never the half turns a
    bend plane of noise would give."""
    rng = np.random.default_rng(0)
    joints = np.repeat(rot.rest_pose(LENGTHS)[None], 200, axis=0)
    joints[:, J["l_wrist"]] += rng.normal(scale=0.003, size=(200, 3))  # 3 mm on a 25 cm forearm
    twist = Rotation.from_quat(rot.joints_to_rotations(joints).rotations[:, J["l_elbow"]]).as_euler("XYZ")[:, 0]
    assert np.degrees(np.abs(twist)).max() < 5


def test_a_bent_elbow_bends_forward_whichever_way_its_bend_plane_faces() -> None:
    """An elbow bent 30 degrees whose bend plane turns a full circle about the upper arm (the
    shoulder rotating it): the forearm always bends forward about the documented axis and the upper
    arm turns with it smoothly. Taking the hinge's side from the clavicle's frame flipped the upper
    arm by half a turn, the elbow bent backwards, where the plane crossed the clavicle's."""
    steps = 360
    phi = np.radians(np.arange(steps) * 360 / steps)
    joints = np.repeat(rot.rest_pose(LENGTHS)[None], steps, axis=0)
    bend = np.radians(30)
    forearm = np.stack([np.full(steps, np.cos(bend)), np.sin(bend) * np.sin(phi), np.sin(bend) * np.cos(phi)], -1)
    joints[:, J["l_wrist"]] = joints[:, J["l_elbow"]] + LENGTHS[J["l_wrist"] - 1] * forearm
    pose = rot.joints_to_rotations(joints)
    assert np.abs(pose.joints() - joints).max() < 1e-9
    v = Rotation.from_quat(pose.rotations[:, J["l_wrist"]]).as_rotvec()
    assert np.allclose(np.degrees(-v[:, 1]), 30, atol=1e-6) and np.abs(v[:, [0, 2]]).max() < 1e-9  # about -y
    upper = pose.rotations[:, J["l_elbow"]]
    step_deg = angle_deg(upper, np.roll(upper, -1, axis=0))
    assert step_deg.max() < 1.5  # 1 degree of turn per frame, never a jump


def bent_left_arm(bends_deg: np.ndarray, planes_deg: np.ndarray) -> np.ndarray:
    """Rest poses ``(F, 17, 3)`` with the left forearm bent ``bends_deg`` forwards-ish, its bend
    plane turned ``planes_deg`` about the upper arm (0: straight forwards, as the T-pose's hinge)."""
    bend, phi = np.radians(bends_deg), np.radians(planes_deg)
    joints = np.repeat(rot.rest_pose(LENGTHS)[None], len(bend), axis=0)
    forearm = np.stack([np.cos(bend), np.sin(bend) * np.sin(phi), np.sin(bend) * np.cos(phi)], -1)
    joints[:, J["l_wrist"]] = joints[:, J["l_elbow"]] + LENGTHS[J["l_wrist"] - 1] * forearm
    return joints


def upper_arm_twist_deg(pose: rot.BonePose) -> np.ndarray:
    """The left upper arm's twist about itself (its rest axis +x) relative to the clavicle, degrees
    (a bend plane turned by ``phi`` about it twists it by ``-phi``)."""
    return np.degrees(Rotation.from_quat(pose.rotations[:, J["l_elbow"]]).as_euler("XYZ")[:, 0])


def test_a_nearly_straight_arm_turns_gradually_to_a_far_bend_plane() -> None:
    """The dance clip's case: an arm bent 9-17 degrees whose bend plane jumps 110 degrees about it.
    Blending the bend plane's direction with the clavicle's by the bend turned the upper arm by
    105 degrees in two frames and back; now it moves part of the way each frame, all the way once
    the arm is clearly bent, and each frame's joints are still reproduced exactly."""
    bends = np.array([9, 9, 9, 12, 15, 16, 17, 16, 15, 16, 17, 16, 10, 9, 40, 40, 40], float)
    planes = np.array([-20, -20, -20, -130, -130, -130, -130, -130, -130, -130, -130, -130, -60, -60, -90, -90, -90],
                      float)  # fmt: skip
    joints = bent_left_arm(bends, planes)
    pose = rot.joints_to_rotations(joints)
    assert np.abs(pose.joints() - joints).max() < 1e-9
    twist = upper_arm_twist_deg(pose)
    steps = np.abs(np.diff(twist))
    assert steps.max() < 45, steps.round(1)
    assert abs(twist[11]) > 80  # it did get there while the arm stayed bent that way
    # bent 40 degrees (past STRAIGHT_LIMB_DEG): a pure hinge again, the forearm about the hinge axis
    np.testing.assert_allclose(twist[-1], -planes[-1], atol=1e-6)  # the plane turned one way, the arm the other
    v = Rotation.from_quat(pose.rotations[-1:, J["l_wrist"]]).as_rotvec()
    assert np.abs(v[:, [0, 2]]).max() < 1e-9


def test_a_limb_straightened_holds_its_twist() -> None:
    """Bent with its plane turned 50 degrees, then straight (under HOLD_LIMB_DEG): the upper arm
    keeps its twist (the bend plane says nothing about it), not a sudden return to the clavicle's."""
    joints = bent_left_arm(np.array([60, 60, 3, 1, 0.5, 2]), np.array([50, 50, 170, -120, 10, 90]))
    twist = upper_arm_twist_deg(rot.joints_to_rotations(joints))
    np.testing.assert_allclose(twist, -50, atol=1e-6)


def figure_four(frames: int, noise_m: float) -> np.ndarray:
    """``frames`` rest poses ``(F, 17, 3)`` with the left thigh raised forwards and a little out,
    the knee bent 90 degrees and the shin across the body, ``noise_m`` of noise on every joint:
    the knee's hinge axis lies square to the hips' frame swung onto the thigh (the reference its
    side is taken by), where noise of millimetres puts it on either side."""
    joints = rot.rest_pose(LENGTHS)
    thigh = np.array([0.3, -0.2, 1.0]) / np.linalg.norm([0.3, -0.2, 1.0])
    joints[J["l_knee"]] = joints[J["l_hip"]] + LENGTHS[J["l_knee"] - 1] * thigh
    joints[J["l_ankle"]] = joints[J["l_knee"]] + LENGTHS[J["l_ankle"] - 1] * thigh
    # a straight leg keeps the hips' frame: its rest reference (+x), on the thigh, is square to the thigh
    straight = Rotation.from_quat(rot.joints_to_rotations(joints[None]).world_rotations()[0, J["l_knee"]])
    joints[J["l_ankle"]] = joints[J["l_knee"]] - LENGTHS[J["l_ankle"] - 1] * straight.apply(rot.TWIST["l_knee"][1])
    return joints + np.random.default_rng(0).normal(0.0, noise_m, (frames, skeleton.NUM_JOINTS, 3))


def test_a_knee_bent_square_to_the_hips_does_not_turn_the_leg_round() -> None:
    """QA's figure-four with 2 mm of joint noise: taking the knee's side afresh each frame turned
    the thigh and the shin by half a turn in 141 of 299 frames while the joints moved millimetres.
    Carried from frame to frame (a frame at a time as the live outputs, or the whole take as the
    BVH export), the axis keeps its sign and the leg only trembles."""
    joints = figure_four(300, 0.002)
    # each frame alone (a first frame: the hips' side) shows the axis on either side
    alone = np.array([rot.joints_to_rotations(f[None]).rotations[0, J["l_knee"]] for f in joints])
    assert (angle_deg(alone[1:], alone[:-1]) > 90).sum() > 50
    whole = rot.joints_to_rotations(joints)
    assert np.abs(whole.joints() - joints).max() < 1e-9
    local, world = whole.rotations, whole.world_rotations()
    for bone in ("l_knee", "l_ankle"):  # thigh and shin, relative to their parents and in the world
        for q in (local[:, J[bone]], world[:, J[bone]]):
            assert angle_deg(q[1:], q[:-1]).max() < 20
    twists, frames = None, []
    for frame in joints:
        pose = rot.joints_to_rotations(frame[None], hinge_twists=twists)
        frames.append(pose.rotations[0])
        twists = pose.hinge_twists
    assert angle_deg(np.array(frames), whole.rotations).max() < 1e-6


def bent_left_leg(bends_deg: np.ndarray, planes_deg: np.ndarray) -> np.ndarray:
    """Rest poses ``(F, 17, 3)`` with the left shin bent ``bends_deg`` backwards (a knee's way),
    its bend plane turned ``planes_deg`` about the upright thigh (180: the shin forwards, the knee
    bent backwards)."""
    bend, phi = np.radians(bends_deg), np.radians(planes_deg)
    joints = np.repeat(rot.rest_pose(LENGTHS)[None], len(bend), axis=0)
    shin = np.stack([-np.sin(bend) * np.sin(phi), -np.cos(bend), -np.sin(bend) * np.cos(phi)], -1)
    joints[:, J["l_ankle"]] = joints[:, J["l_knee"]] + LENGTHS[J["l_ankle"] - 1] * shin
    return joints


def test_a_knee_keeps_its_side_to_the_margin_and_turns_no_leg_round_when_bent_backwards() -> None:
    """A knee bent 60 degrees whose bend plane turns from the knee's way (shin back) to the shin
    forwards, 2 degrees a frame: the thigh turns with it to KNEE_SIDE_MARGIN_DEG past square to the
    hips, then once by half a turn back to the hips' side (a knee bent backwards turns no thigh
    round). A knee bent forwards, then 15 degrees backwards in the next frame and forwards again
    keeps the thigh's turn."""
    planes = np.arange(0.0, 181.0, 2.0)
    pose = rot.joints_to_rotations(bent_left_leg(np.full(len(planes), 60.0), planes))
    thigh = pose.rotations[:, J["l_knee"]]
    steps = angle_deg(thigh[1:], thigh[:-1])
    assert np.flatnonzero(steps > 90).tolist() == [np.argmax(planes[1:] > 90 + rot.KNEE_SIDE_MARGIN_DEG)]
    assert np.sort(steps)[-2] < 2.5
    assert angle_deg(thigh[-1], [0, 0, 0, 1]) < 1e-6  # the hips' side: the thigh as the hips hold it
    pose = rot.joints_to_rotations(bent_left_leg(np.array([40.0, 40, 15, 40, 40]), np.array([0.0, 0, 180, 0, 0])))
    assert angle_deg(pose.rotations[:, J["l_knee"]], np.array([[0, 0, 0, 1]] * 5)).max() < 1e-6


def test_a_stream_a_frame_at_a_time_gives_the_rotations_of_the_whole() -> None:
    """The live outputs make one frame at a time, carrying the hinges' twists: the same rotations
    as the whole take at once (the BVH export's way)."""
    joints = cmu("08_04", step=8)
    whole = rot.joints_to_rotations(joints)
    twists, frames = None, []
    for frame in joints:
        pose = rot.joints_to_rotations(frame[None], hinge_twists=twists)
        frames.append(pose.rotations[0])
        twists = pose.hinge_twists
    assert angle_deg(np.array(frames), whole.rotations).max() < 1e-6
    assert np.allclose(twists.radians, whole.hinge_twists.radians)


def test_sign_continuity_keeps_one_hemisphere_and_the_rotations() -> None:
    """Two turns about y in 1-degree steps: scipy's quaternions flip sign on the way (the same
    rotation); sent through SignContinuity each lies in the last one's hemisphere."""
    raw = Rotation.from_euler("y", np.arange(720.0)[:, None], degrees=True).as_quat()
    raw[::7] *= -1  # as scipy may return either
    signs = rot.SignContinuity()
    sent = np.array([signs("person 3", q[None])[0] for q in raw])
    assert (np.sum(raw[1:] * raw[:-1], axis=-1) < 0).any()
    assert (np.sum(sent[1:] * sent[:-1], axis=-1) > 0).all()
    assert angle_deg(sent, raw).max() < 1e-6
    other = signs("person 4", -raw[:1])  # another stream starts afresh
    np.testing.assert_array_equal(other, -raw[:1])
    signs.keep_only({"person 4"})
    np.testing.assert_array_equal(signs("person 3", -sent[-1:]), -sent[-1:])  # forgotten: as given


def test_frames_without_a_pose_give_nan() -> None:
    joints = cmu("09_01", step=10)
    joints[2] = np.nan
    joints[4, 3] = np.inf
    pose = rot.joints_to_rotations(joints)
    bad = np.isnan(pose.rotations).any(axis=(1, 2))
    assert bad.tolist() == [i in (2, 4) for i in range(len(joints))]
    fk = pose.joints()
    assert np.isnan(fk[[2, 4]]).all() and np.abs(fk[~bad] - joints[~bad]).max() < 1e-9


def test_world_and_local_rotations_are_inverse() -> None:
    pose = rot.joints_to_rotations(cmu("49_04", step=6))
    world = pose.world_rotations()
    assert angle_deg(rot.local_rotations(world), pose.rotations).max() < 1e-6
    # a bone's world rotation takes its rest direction onto the posed bone
    joints = pose.joints()
    for child, parent in skeleton.BONES:
        bone = joints[:, child] - joints[:, parent]
        posed = Rotation.from_quat(world[:, child]).apply(rot.REST_DIRECTIONS[child])
        assert np.allclose(posed, bone / np.linalg.norm(bone, axis=-1, keepdims=True), atol=1e-9)


def test_rest_offsets_match_the_rest_pose() -> None:
    offsets = rot.rest_offsets(LENGTHS)
    rest = rot.rest_pose(LENGTHS)
    for child, parent in skeleton.BONES:
        assert np.allclose(rest[child] - rest[parent], offsets[child])
    with pytest.raises(ValueError, match=r"\(F, 17, 3\)"):
        rot.joints_to_rotations(rest)


def test_straight_limbs_along_the_parents_axes_still_give_rotations() -> None:
    """Arms straight up and straight down (no bend plane, the bone along the clavicle's up axis)
    and a leg kicked straight up behind the body: finite rotations and an exact round trip."""
    rest = rot.rest_pose(LENGTHS)
    joints = np.repeat(rest[None], 3, axis=0)
    for frame, sign in ((0, 1.0), (1, -1.0)):
        for side in "lr":
            shoulder = joints[frame, J[f"{side}_shoulder"]]
            upper, fore = LENGTHS[J[f"{side}_elbow"] - 1], LENGTHS[J[f"{side}_wrist"] - 1]
            joints[frame, J[f"{side}_elbow"]] = shoulder + [0, sign * upper, 0]
            joints[frame, J[f"{side}_wrist"]] = shoulder + [0, sign * (upper + fore), 0]
    hip = joints[2, J["l_hip"]]
    joints[2, J["l_knee"]] = hip + [0, LENGTHS[J["l_knee"] - 1], 0]  # the thigh reversed: half a turn
    joints[2, J["l_ankle"]] = joints[2, J["l_knee"]] + [0, LENGTHS[J["l_ankle"] - 1], 0]
    pose = rot.joints_to_rotations(joints)
    assert np.isfinite(pose.rotations).all()
    assert np.abs(pose.joints() - joints).max() < 1e-9


@pytest.mark.parametrize("on_parent", [["l_elbow"], ["r_hip", "l_hip"], ["spine", "thorax"], skeleton.JOINT_NAMES[1:]])
def test_a_joint_on_its_parent_gives_rotations_that_place_it(on_parent: list[str]) -> None:
    """A bone of zero length (a detector's fault) has no direction: Rotation raised "Non-positive
    determinant", which ended a live run with an engine frame and crashed ``export --bvh`` (numerics
    QA). It keeps its rest direction from its parent, and forward kinematics still gives the joints."""
    joints = cmu("08_04")[:3].copy()
    for name in on_parent:
        joints[:, J[name]] = joints[:, skeleton.PARENTS[J[name]]]  # (parents come first: all at the pelvis)
    pose = rot.joints_to_rotations(joints)
    assert np.isfinite(pose.rotations).all() and np.allclose(np.linalg.norm(pose.rotations, axis=-1), 1.0)
    assert np.abs(pose.joints() - joints).max() < 1e-9
