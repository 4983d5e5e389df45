"""Root placement and metric scale on synthetic poses at known camera positions."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import normalize, skeleton
from posecast.engines.camera import angle_to_image_plane_deg, metric_scale, onto_rays, solve_root_translation


def _random_pose(rng: np.random.Generator, height_m: float = 1.7) -> np.ndarray:
    """A root-relative pose ``(17, 3)`` in metres with typical bone lengths and random directions
    (limbs loosely downwards/outwards so the figure is person-like and spread in 2D)."""
    lengths = skeleton.bone_lengths_from_height(height_m)
    pose = np.zeros((17, 3))
    for b, (child, parent) in enumerate(skeleton.BONES):
        direction = rng.normal(size=3)
        direction[1] += 2.0 if skeleton.JOINT_NAMES[child].endswith(("knee", "ankle")) else 0.0
        direction[1] -= 2.0 if child in (7, 8, 9, 10) else 0.0  # the spine and head go up (y down)
        pose[child] = pose[parent] + lengths[b] * direction / np.linalg.norm(direction)
    return pose


def test_exact_recovery_with_perfect_data():
    rng = np.random.default_rng(0)
    for root in ([0.0, 0.0, 3.0], [0.4, -0.3, 2.2], [-1.1, 0.5, 5.5]):
        pose = _random_pose(rng)
        keypoints = normalize.project(pose + root)
        np.testing.assert_allclose(solve_root_translation(pose, keypoints), root, atol=1e-9)


def test_batches_and_per_row_weights():
    rng = np.random.default_rng(1)
    poses = np.stack([_random_pose(rng) for _ in range(6)])
    roots = np.column_stack([rng.uniform(-1, 1, 6), rng.uniform(-0.5, 0.5, 6), rng.uniform(1.5, 6, 6)])
    keypoints = normalize.project(poses + roots[:, None])
    keypoints[:, 13] += 0.3  # a wrong wrist, ignored through its weight
    weights = np.ones((6, 17))
    weights[:, 13] = 0.0
    solved = solve_root_translation(poses, keypoints, weights)
    assert solved.shape == (6, 3)
    np.testing.assert_allclose(solved, roots, atol=1e-9)
    assert np.abs(solve_root_translation(poses, keypoints) - roots).max() > 0.05  # the weight mattered


def test_noisy_2d_stays_close():
    rng = np.random.default_rng(2)
    errors = []
    for _ in range(50):
        pose, root = _random_pose(rng), np.array([rng.uniform(-0.5, 0.5), 0.1, rng.uniform(2.5, 4.5)])
        noise = rng.normal(scale=0.003, size=(17, 2))  # ≈ 2 px at f = 600 px
        keypoints = normalize.project(pose + root) + noise
        errors.append(np.abs(solve_root_translation(pose, keypoints, np.full(17, 0.8)) - root))
    errors = np.asarray(errors)
    assert errors[:, :2].max() < 0.03 and errors[:, 2].max() < 0.15  # metres
    assert np.median(errors[:, 2]) < 0.04


def test_degenerate_input_gives_nan():
    rng = np.random.default_rng(3)
    pose = _random_pose(rng)
    keypoints = normalize.project(pose + [0.0, 0.0, 3.0])
    assert np.isnan(solve_root_translation(pose, keypoints, np.zeros(17))).all()
    one_joint = np.zeros(17)
    one_joint[3] = 1.0
    assert np.isnan(solve_root_translation(pose, keypoints, one_joint)[2])
    batch = solve_root_translation(np.stack([pose, pose]), np.stack([keypoints, keypoints]),
                                   np.stack([np.ones(17), np.zeros(17)]))  # fmt: skip
    np.testing.assert_allclose(batch[0], [0.0, 0.0, 3.0], atol=1e-9)
    assert np.isnan(batch[1]).all()


def test_misuse_is_rejected():
    pose, keypoints = np.zeros((17, 3)), np.zeros((17, 2))
    with pytest.raises(ValueError, match=r"expected joints \(\.\.\., 17, 3\)"):
        solve_root_translation(np.zeros((16, 3)), keypoints)
    with pytest.raises(ValueError, match=r"expected weights \(\.\.\., 17\)"):
        solve_root_translation(pose, keypoints, np.ones(16))
    with pytest.raises(ValueError, match="non-negative"):
        solve_root_translation(pose, keypoints, -np.ones(17))


def test_metric_scale_undoes_a_global_scale():
    rng = np.random.default_rng(4)
    pose = _random_pose(rng, height_m=1.62)
    reference = skeleton.bone_lengths_from_height(1.62)
    assert metric_scale(pose * 0.37, reference) == pytest.approx(1 / 0.37, rel=1e-12)
    factors = metric_scale(np.stack([pose * 2.0, pose * 0.5]), reference)
    np.testing.assert_allclose(factors, [0.5, 2.0], rtol=1e-12)


def test_metric_scale_weights_ignore_a_bad_bone():
    rng = np.random.default_rng(5)
    pose = _random_pose(rng)
    reference = skeleton.bone_lengths_from_height(1.7)
    bad = pose.copy()
    bad[13] = bad[12] + 3.0 * (pose[13] - pose[12])  # the left forearm three times too long
    weights = np.ones(16)
    weights[12] = 0.0  # bone 12 is l_elbow-l_wrist
    assert skeleton.BONE_NAMES[12] == "l_elbow-l_wrist"
    assert metric_scale(bad * 0.2, reference, weights) == pytest.approx(5.0, rel=1e-12)
    assert metric_scale(bad * 0.2, reference) < 4.5


def test_metric_scale_of_a_pose_with_no_extent_is_nan():
    assert np.isnan(metric_scale(np.zeros((17, 3)), skeleton.bone_lengths_from_height(1.7)))


def test_onto_rays_keeps_a_true_pose_and_takes_the_2d_across_the_view():
    rng = np.random.default_rng(4)
    poses = np.stack([_random_pose(rng) for _ in range(5)])
    roots = np.column_stack([rng.uniform(-1, 1, 5), rng.uniform(-0.5, 0.5, 5), rng.uniform(2, 5, 5)])
    keypoints = normalize.project(poses + roots[:, None])
    np.testing.assert_allclose(onto_rays(poses, keypoints), poses + roots[:, None], atol=1e-9)
    # a lifter that put the wrists 10 cm too far sideways: on the rays they sit where the 2D saw them
    wrong = poses.copy()
    wrong[:, [13, 16], 0] += 0.10
    fixed = onto_rays(wrong, keypoints)
    np.testing.assert_allclose(normalize.project(fixed), keypoints, atol=1e-12)
    before = np.abs(wrong + solve_root_translation(wrong, keypoints)[:, None] - (poses + roots[:, None]))
    after = np.abs(fixed - (poses + roots[:, None]))
    assert after[:, [13, 16], 0].max() < 0.4 * before[:, [13, 16], 0].min()  # the root moved a little too


def test_onto_rays_gives_nan_where_the_pose_cannot_be_placed():
    pose = _random_pose(np.random.default_rng(5))
    flat = np.zeros((17, 2))  # no spread: no depth
    assert np.isnan(onto_rays(pose, flat)).all()
    placed = pose + [0.0, 0.0, 0.2]  # so close that a joint is behind the camera
    placed[16, 2] = -0.3
    keypoints = placed[:, :2] / placed[:, 2:]  # exact pinhole, no clamping: the root is found
    np.testing.assert_allclose(solve_root_translation(placed - placed[0], keypoints), placed[0], atol=1e-9)
    assert np.isnan(onto_rays(placed - placed[0], keypoints)).all()


@pytest.mark.parametrize("turn_deg", [0.0, 20.0, 45.0, 70.0, 90.0])
def test_angle_to_image_plane_is_the_turn_out_of_the_view(turn_deg: float) -> None:
    """A segment turned about the vertical out of the view, anywhere in the image: the angle is
    the turn measured from the viewing ray through its midpoint, not from the optical axis."""
    centre = np.array([1.5, -0.4, 3.0])  # off-axis: the ray through it is tilted ~27° from z
    ray = centre / np.linalg.norm(centre)
    across = np.cross(ray, [0.0, 1.0, 0.0])
    across /= np.linalg.norm(across)
    t = np.radians(turn_deg)
    half = 0.2 * (np.cos(t) * across + np.sin(t) * ray)
    points = np.stack([centre - half, centre + half, centre + [0.0, 1.0, 0.0]])[None].repeat(2, axis=0)
    np.testing.assert_allclose(angle_to_image_plane_deg(points, 0, 1), [turn_deg, turn_deg], atol=1e-9)
    assert np.isnan(angle_to_image_plane_deg(points, 0, 0)).all()  # no segment: no direction
