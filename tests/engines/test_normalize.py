"""The 2D normalisation shared by numpy (live path) and torch (training, ONNX graph)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from posecast.engines import normalize

INTRINSICS = np.array([910.0, 905.0, 641.5, 362.0])


def random_pixels(rng: np.random.Generator, *batch: int) -> np.ndarray:
    """Plausible pixel keypoints ``(*batch, 17, 2)`` of a person in a 1280×720 image."""
    centre = np.array([640.0, 360.0]) + rng.uniform(-200, 200, (*batch, 1, 2))
    return centre + rng.normal(0.0, 80.0, (*batch, 17, 2))


def test_normalize_denormalize_round_trip() -> None:
    pixels = random_pixels(np.random.default_rng(0), 4, 9)
    norm = normalize.normalize_pixels(pixels, INTRINSICS)
    np.testing.assert_allclose(norm[..., 0], (pixels[..., 0] - 641.5) / 910.0)
    np.testing.assert_allclose(norm[..., 1], (pixels[..., 1] - 362.0) / 905.0)
    np.testing.assert_allclose(normalize.denormalize_pixels(norm, INTRINSICS), pixels, atol=1e-9)


def test_per_sample_intrinsics_broadcast_over_joints() -> None:
    rng = np.random.default_rng(1)
    pixels = random_pixels(rng, 3, 5)  # (B, T, 17, 2)
    intrinsics = INTRINSICS * rng.uniform(0.8, 1.2, (3, 4))
    batched = normalize.normalize_pixels(pixels, intrinsics[:, None, :])
    for b in range(3):
        np.testing.assert_allclose(batched[b], normalize.normalize_pixels(pixels[b], intrinsics[b]))


def test_numpy_and_torch_share_one_definition() -> None:
    rng = np.random.default_rng(2)
    pixels = random_pixels(rng, 2, 4)
    norm_np = normalize.normalize_pixels(pixels, INTRINSICS)
    norm_t = normalize.normalize_pixels(torch.from_numpy(pixels), torch.from_numpy(INTRINSICS))
    assert isinstance(norm_t, torch.Tensor)
    np.testing.assert_allclose(norm_t.numpy(), norm_np, rtol=0, atol=1e-14)
    canon_np = normalize.canonicalize(norm_np)
    np.testing.assert_allclose(normalize.canonicalize(torch.from_numpy(norm_np)).numpy(), canon_np, atol=1e-14)
    cam = np.concatenate([rng.normal(0, 0.4, (2, 4, 17, 2)), rng.uniform(-1.0, 6.0, (2, 4, 17, 1))], -1)
    proj_np = normalize.project(cam)
    np.testing.assert_allclose(normalize.project(torch.from_numpy(cam)).numpy(), proj_np, atol=1e-14)
    assert np.isfinite(proj_np).all()  # depths ≤ 0 are clamped, not divided by


def test_project_is_the_pinhole_model() -> None:
    cam = np.array([[[0.5, -0.25, 2.0], [1.0, 1.0, 4.0], [0.3, 0.3, -1.0]]])
    proj = normalize.project(cam, min_depth=0.5)
    np.testing.assert_allclose(proj, [[[0.25, -0.125], [0.25, 0.25], [0.6, 0.6]]])


def test_canonical_pose_has_root_at_origin_and_fixed_size() -> None:
    norm = normalize.normalize_pixels(random_pixels(np.random.default_rng(3), 6), INTRINSICS)
    canon = normalize.canonicalize(norm)
    np.testing.assert_allclose(canon[:, 0], 0.0, atol=1e-15)
    rms = np.sqrt((canon**2).sum(-1).mean(-1))
    np.testing.assert_allclose(rms, 1.0 / normalize.CAMERA_DISTANCE, rtol=1e-9)
    np.testing.assert_allclose(normalize.pose_size(canon)[:, 0, 0], rms, rtol=1e-9)


def test_canonical_pose_ignores_where_in_the_view_and_how_far() -> None:
    """One pose in the root view, placed straight ahead or 30° off-axis (turned with the view, as
    the camera would see it there), and the same pose larger and further away (the scale
    ambiguity): the same canonical 2D."""
    rng = np.random.default_rng(4)
    pose_root_view = rng.normal(scale=0.3, size=(17, 3))
    pose_root_view -= pose_root_view[0]
    ahead = normalize.canonicalize(normalize.project(pose_root_view + [0.0, 0.0, 4.0]))
    for root_norm, depth in [((0.58, 0.0), 4.0), ((-0.3, 0.4), 2.5), ((0.1, -0.2), 9.0)]:
        root_norm = np.array(root_norm)
        root = depth * np.array([*root_norm, 1.0])
        scale = np.linalg.norm(root) / 4.0  # as far along its ray as it is larger
        seen = normalize.project(normalize.to_camera_axes(pose_root_view * scale, root_norm) + root)
        np.testing.assert_allclose(normalize.canonicalize(seen), ahead, atol=1e-12)
    other = pose_root_view.copy()
    other[3] += 0.05  # a changed pose is not the same canonical pose
    assert np.abs(normalize.canonicalize(normalize.project(other + [0.0, 0.0, 4.0])) - ahead).max() > 1e-3


def test_degenerate_pose_stays_finite() -> None:
    canon = normalize.canonicalize(np.full((17, 2), 0.2))
    assert np.isfinite(canon).all() and np.abs(canon).max() == 0.0


@pytest.mark.parametrize("root", [0, 8])
def test_pose_size_is_rms_distance_from_root(root: int) -> None:
    pose = np.random.default_rng(5).normal(size=(17, 3))
    expected = np.sqrt(((pose - pose[root]) ** 2).sum(-1).mean())
    assert normalize.pose_size(pose, root)[0, 0] == pytest.approx(expected, rel=1e-9)


def test_camera_axes_rotation_is_rigid_and_points_the_axis_at_the_root() -> None:
    rng = np.random.default_rng(3)
    root_norm = rng.uniform(-0.7, 0.7, (6, 2))
    pose = rng.normal(size=(6, 17, 3))
    cam = normalize.to_camera_axes(pose, root_norm)
    np.testing.assert_allclose(np.linalg.norm(cam, axis=-1), np.linalg.norm(pose, axis=-1), atol=1e-12)
    # handedness kept (a rotation, not a reflection): the triple product of three joints
    triple = np.einsum("bi,bi->b", np.cross(cam[:, 1], cam[:, 2]), cam[:, 3])
    np.testing.assert_allclose(triple, np.einsum("bi,bi->b", np.cross(pose[:, 1], pose[:, 2]), pose[:, 3]))
    axis = normalize.to_camera_axes(np.tile([0.0, 0.0, 2.0], (6, 1, 1)), root_norm)[:, 0]
    np.testing.assert_allclose(axis[:, :2] / axis[:, 2:], root_norm, atol=1e-12)  # onto the root's ray
    np.testing.assert_allclose(normalize.to_root_view(cam, root_norm), pose, atol=1e-12)
    np.testing.assert_allclose(normalize.to_camera_axes(pose, np.zeros(2)), pose)  # root on the axis: no turn
    as_torch = normalize.to_camera_axes(torch.from_numpy(pose), torch.from_numpy(root_norm)).numpy()
    np.testing.assert_allclose(as_torch, cam, atol=1e-12)


def test_centred_2d_of_an_off_centre_subject_is_its_root_view() -> None:
    """Centring the 2D of a person 25° off-axis gives the 2D of the same person turned into the
    root view and filmed straight ahead (a mere shift, the released code's centring, does not)."""
    rng = np.random.default_rng(4)
    pose_rel = rng.normal(scale=0.3, size=(17, 3))
    pose_rel -= pose_rel[0]
    root = 4.0 * np.array([np.sin(np.radians(25)), 0.1, np.cos(np.radians(25))])
    seen = normalize.canonicalize(normalize.project(pose_rel + root))
    root_norm = root[:2] / root[2]
    ahead = np.array([0.0, 0.0, np.linalg.norm(root)])
    turned = normalize.canonicalize(normalize.project(normalize.to_root_view(pose_rel, root_norm) + ahead))
    np.testing.assert_allclose(turned, seen, atol=1e-12)
    image = normalize.project(pose_rel + root)
    shifted = image - image[:1]
    shifted = shifted / (normalize.pose_size(shifted) * normalize.CAMERA_DISTANCE)
    assert np.abs(shifted - seen).max() > 0.01 * np.abs(seen).max()
