"""The 17-joint skeleton: MediaPipe and mocap mappings, bones, mirroring, height ↔ bone lengths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.engines.skeleton import JOINT_INDEX as J


@pytest.fixture(scope="module")
def mediapipe_world(media_dir: Path) -> np.ndarray:
    """MediaPipe's world landmarks of the squats clip ``(65, 33, 3)`` in metres."""
    data = np.asarray(json.loads((media_dir / "squats_720x1280.mediapipe_full_world.json").read_text()))
    assert data.shape == (65, 33, 3)
    return data


def midpoint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 0.5 * (a + b)


def test_skeleton_tables_are_consistent() -> None:
    assert skeleton.NUM_JOINTS == 17 and len(skeleton.PARENTS) == 17
    assert all(p < j for j, p in enumerate(skeleton.PARENTS))  # parents come first
    assert len(skeleton.BONES) == len(skeleton.BONE_NAMES) == 16
    for left, right in skeleton.LEFT_RIGHT:
        assert skeleton.JOINT_NAMES[left].replace("l_", "r_") == skeleton.JOINT_NAMES[right]


def test_from_mediapipe_direct_and_derived_joints(mediapipe_world: np.ndarray) -> None:
    mp = mediapipe_world
    joints = skeleton.from_mediapipe(mp)
    assert joints.shape == (65, 17, 3)
    for name, index in skeleton.MP_DIRECT.items():
        np.testing.assert_array_equal(joints[:, J[name]], mp[:, index])
    hips = midpoint(mp[:, 23], mp[:, 24])
    shoulders = midpoint(mp[:, 11], mp[:, 12])
    ears = midpoint(mp[:, 7], mp[:, 8])
    np.testing.assert_allclose(joints[:, J["pelvis"]], hips, atol=1e-12)
    np.testing.assert_allclose(joints[:, J["thorax"]], shoulders, atol=1e-12)
    np.testing.assert_allclose(joints[:, J["spine"]], midpoint(hips, shoulders), atol=1e-12)
    np.testing.assert_allclose(joints[:, J["head"]], ears, atol=1e-12)
    np.testing.assert_allclose(joints[:, J["neck"]], midpoint(shoulders, ears), atol=1e-12)


def test_from_mediapipe_works_for_any_channel_count(mediapipe_world: np.ndarray) -> None:
    visibility = np.linspace(0.0, 1.0, 33)[None, :, None].repeat(4, axis=0)  # (4, 33, 1)
    conf = skeleton.from_mediapipe(visibility)
    assert conf.shape == (4, 17, 1)
    assert conf[0, J["head"], 0] == pytest.approx(midpoint(visibility[0, 7, 0], visibility[0, 8, 0]))
    pixels = skeleton.from_mediapipe(mediapipe_world[..., :2])
    np.testing.assert_allclose(pixels, skeleton.from_mediapipe(mediapipe_world)[..., :2])


def test_from_mediapipe_rejects_other_landmark_counts() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., 33, C\)"):
        skeleton.from_mediapipe(np.zeros((5, 17, 2)))


def test_from_mocap_definitions() -> None:
    rng = np.random.default_rng(0)
    names = [f"m{i}" for i in range(16)]
    mapping = {name: names[i] for i, name in enumerate(skeleton.MP_DIRECT)} | {"head": "m12", "neck": "m13"}
    mocap = rng.normal(size=(3, 16, 3))
    joints = skeleton.from_mocap(mocap, names, mapping)
    assert joints.shape == (3, 17, 3)
    for name, mocap_name in mapping.items():
        if name in skeleton.MP_DIRECT:
            np.testing.assert_array_equal(joints[:, J[name]], mocap[:, names.index(mocap_name)])
    skull_base, neck_top = mocap[:, 12], mocap[:, 13]
    head = skull_base + skeleton.MOCAP_HEAD_EXTENSION * (skull_base - neck_top)
    np.testing.assert_allclose(joints[:, J["head"]], head)
    hips = midpoint(joints[:, J["l_hip"]], joints[:, J["r_hip"]])
    shoulders = midpoint(joints[:, J["l_shoulder"]], joints[:, J["r_shoulder"]])
    np.testing.assert_allclose(joints[:, J["pelvis"]], hips)
    np.testing.assert_allclose(joints[:, J["spine"]], midpoint(hips, shoulders))
    np.testing.assert_allclose(joints[:, J["neck"]], midpoint(shoulders, head))


def test_from_mocap_names_missing_joints() -> None:
    mapping = {name: name for name in skeleton.MP_DIRECT} | {"head": "Head", "neck": "Neck"}
    with pytest.raises(ValueError, match=r"lacks joints \['Head', 'Neck'\]"):
        skeleton.from_mocap(np.zeros((1, 12, 3)), list(skeleton.MP_DIRECT), mapping)


def test_bone_lengths_of_a_known_pose() -> None:
    joints = np.zeros((17, 3))
    for j, parent in enumerate(skeleton.PARENTS):
        if parent >= 0:  # each joint 0.1·j above its parent along a different axis
            joints[j] = joints[parent] + 0.1 * j * np.eye(3)[j % 3]
    lengths = skeleton.bone_lengths(joints)
    np.testing.assert_allclose(lengths, [0.1 * c for c, _ in skeleton.BONES])
    batched = skeleton.bone_lengths(np.stack([joints, 2 * joints]))
    np.testing.assert_allclose(batched[1], 2 * lengths)


def test_mirror_swaps_left_and_right_only() -> None:
    joints = np.arange(2 * 17 * 3, dtype=np.float64).reshape(2, 17, 3)
    mirrored = skeleton.mirror(joints)
    for left, right in skeleton.LEFT_RIGHT:
        np.testing.assert_array_equal(mirrored[:, left], joints[:, right])
        np.testing.assert_array_equal(mirrored[:, right], joints[:, left])
    for name in ("pelvis", "spine", "thorax", "neck", "head"):
        np.testing.assert_array_equal(mirrored[:, J[name]], joints[:, J[name]])
    np.testing.assert_array_equal(skeleton.mirror(mirrored), joints)
    assert mirrored is not joints and joints[0, 1, 0] == 3.0  # input untouched


@pytest.mark.parametrize("channels", [2, 3])
def test_mirror_image_is_the_same_for_numpy_and_torch(channels: int) -> None:
    torch = pytest.importorskip("torch")
    points = np.random.default_rng(0).normal(size=(4, 5, 17, channels)).astype(np.float32)
    as_numpy = skeleton.mirror_image(points)
    as_torch = skeleton.mirror_image(torch.from_numpy(points))
    assert as_numpy.dtype == np.float32 and as_torch.dtype == torch.float32
    np.testing.assert_array_equal(as_torch.numpy(), as_numpy)
    np.testing.assert_array_equal(as_numpy[..., 0], -skeleton.mirror(points)[..., 0])
    np.testing.assert_array_equal(as_numpy[..., 1:], skeleton.mirror(points)[..., 1:])
    np.testing.assert_array_equal(skeleton.mirror_image(as_torch).numpy(), points)  # twice: the input back


@pytest.mark.parametrize("height_m", [0.9, 1.55, 1.75, 2.1])
def test_height_bone_lengths_round_trip(height_m: float) -> None:
    lengths = skeleton.bone_lengths_from_height(height_m)
    assert lengths.shape == (16,) and (lengths > 0).all()
    assert skeleton.height_from_bone_lengths(lengths) == pytest.approx(height_m, rel=1e-3)
    left = [skeleton.BONE_NAMES.index(n) for n in skeleton.BONE_NAMES if "l_" in n]
    right = [skeleton.BONE_NAMES.index(n.replace("l_", "r_")) for n in skeleton.BONE_NAMES if "l_" in n]
    np.testing.assert_array_equal(lengths[left], lengths[right])


def test_height_of_a_real_mediapipe_subject_is_adult(mediapipe_world: np.ndarray) -> None:
    lengths = np.median(skeleton.bone_lengths(skeleton.from_mediapipe(mediapipe_world)), axis=0)
    assert 1.4 < skeleton.height_from_bone_lengths(lengths) < 2.0


@pytest.mark.parametrize("height_m", [0.0, 0.3, 3.0, 175.0])
def test_absurd_heights_are_rejected(height_m: float) -> None:
    with pytest.raises(ValueError, match="from 0.5 to 2.8"):
        skeleton.bone_lengths_from_height(height_m)


def _depth_from_radius(points: np.ndarray) -> np.ndarray:
    """A lift that commutes with camera rolls and mirror images: depth = distance from the axis."""
    return np.concatenate([points, np.linalg.norm(points, axis=-1, keepdims=True)], axis=-1)


@pytest.mark.parametrize(("rolls", "mirror"), [((0.0,), False), ((-45.0, 0.0, 30.0), False), ((0.0,), True),
                                               ((-90.0, 15.0), True)])  # fmt: skip
def test_view_ensemble_turns_and_mirrors_each_view_back(rolls: tuple[float, ...], mirror: bool) -> None:
    points = np.random.default_rng(2).normal(0, 0.1, (3, 17, 2))
    np.testing.assert_allclose(skeleton.view_ensemble(_depth_from_radius, points, rolls, mirror),
                               _depth_from_radius(points), atol=1e-12)  # fmt: skip


def test_roll_about_z_turns_x_towards_y() -> None:
    torch = pytest.importorskip("torch")
    points = np.array([[1.0, 0.0, 5.0], [0.0, 2.0, -1.0]])
    np.testing.assert_allclose(skeleton.roll_about_z(points, 90.0), [[0.0, 1.0, 5.0], [-2.0, 0.0, -1.0]], atol=1e-12)
    as_torch = skeleton.roll_about_z(torch.from_numpy(points), 90.0)
    np.testing.assert_allclose(as_torch.numpy(), skeleton.roll_about_z(points, 90.0))
    np.testing.assert_allclose(skeleton.roll_about_z(skeleton.roll_about_z(points, 33.0), -33.0), points, atol=1e-12)
    assert points[0, 0] == 1.0  # the input is not changed


def test_with_bone_lengths_keeps_each_direction_and_sets_each_length(walk_joints: np.ndarray) -> None:
    """The rebuild the live bone smoother publishes and the tools score: directions kept, lengths set."""
    pose = skeleton.root_relative(walk_joints[:5].astype(np.float64))
    lengths = np.linspace(0.05, 0.5, 16)
    rebuilt = skeleton.with_bone_lengths(pose, lengths)
    assert rebuilt.shape == pose.shape and np.abs(rebuilt[:, skeleton.ROOT]).max() == 0.0
    np.testing.assert_allclose(skeleton.bone_lengths(rebuilt), np.broadcast_to(lengths, (5, 16)), rtol=1e-12)
    child, parent = (np.array([b[i] for b in skeleton.BONES]) for i in (0, 1))
    before, after = pose[:, child] - pose[:, parent], rebuilt[:, child] - rebuilt[:, parent]
    cosine = (before * after).sum(-1) / np.linalg.norm(before, axis=-1) / np.linalg.norm(after, axis=-1)
    np.testing.assert_allclose(cosine, 1.0, atol=1e-12)
    per_frame = skeleton.with_bone_lengths(pose, np.tile(lengths, (5, 1)))  # lengths per frame broadcast too
    np.testing.assert_array_equal(per_frame, rebuilt)


def test_with_bone_lengths_keeps_the_root_where_it_is_and_a_bone_of_no_length_on_its_parent(
    walk_joints: np.ndarray,
) -> None:
    """The avatar's One Euro path rebuilds world-placed joints, and a filter can put a child on its parent."""
    pose = walk_joints[0].astype(np.float64) + [0.4, 0.9, -2.5]
    lengths = np.full(16, 0.2)
    rebuilt = skeleton.with_bone_lengths(pose, lengths)
    np.testing.assert_array_equal(rebuilt[skeleton.ROOT], pose[skeleton.ROOT])
    np.testing.assert_allclose(skeleton.bone_lengths(rebuilt), lengths, rtol=1e-12)
    wrist, elbow = skeleton.JOINT_INDEX["l_wrist"], skeleton.JOINT_INDEX["l_elbow"]
    pose[wrist] = pose[elbow]  # the forearm has no direction: the wrist stays on the elbow
    rebuilt = skeleton.with_bone_lengths(pose, lengths)
    assert np.isfinite(rebuilt).all()
    np.testing.assert_allclose(rebuilt[wrist], rebuilt[elbow], atol=1e-12)


@pytest.mark.parametrize("height_m", [0.5, 2.8])
def test_the_ends_of_the_height_range_are_taken_everywhere(height_m: float) -> None:
    """QA: ``--subject-height 2.8`` was refused with "must be between 0.5 and 2.8, got 2.8" (by
    run, lift and calibrate subject alike): both ends are in the range, NaN is not."""
    from posecast.calibration.subject import _check_height
    from posecast.realtime.lifting import LiftingOptions
    from posecast.realtime.lifting.smoothing import BoneLengthSmootherOptions

    assert skeleton.bone_lengths_from_height(height_m).shape == (len(skeleton.BONE_NAMES),)
    assert LiftingOptions(height_m=height_m).height_m == height_m
    _check_height(height_m)
    assert BoneLengthSmootherOptions.from_height(height_m).height_m == height_m
    assert not skeleton.height_in_range(float("nan"))
