"""Training windows: virtual webcams, MediaPipe-like 2D noise, the mocap and recorded-2D samplers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from posecast.engines import normalize, rotations, skeleton
from posecast.engines.training.data.cameras import LEGACY_CAMERAS, MIN_DEPTH_M, film, look_at_rotation, sample_cameras
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.data.noise import NoiseOptions, add_detector_noise
from posecast.engines.training.data.windows import (
    MocapWindowSampler,
    Recorded2DSampler,
    SamplerOptions,
    _index_windows,
    load_recorded_2d,
    rescale_bones,
)


def camera_centres(cams) -> np.ndarray:  # noqa: ANN001
    """World positions ``(B, 3)`` of the cameras: ``−Rᵀ t``."""
    return -np.einsum("bji,bj->bi", cams.rotation, cams.translation)


# ------------------------------------------------------------------ cameras
def test_look_at_rotation_axes() -> None:
    # camera on +Z looking back along −Z, world Y up: x right = +X, y down = −Y
    rot = look_at_rotation(np.array([[0.0, 0.0, -1.0]]), np.zeros(1))
    np.testing.assert_allclose(rot[0], [[1, 0, 0], [0, -1, 0], [0, 0, -1]], atol=1e-12)


def test_cameras_are_rigid_and_look_at_the_subject() -> None:
    rng = np.random.default_rng(0)
    targets = rng.uniform(-3.0, 3.0, (500, 3)) + np.array([0.0, 0.9, 0.0])
    cams = sample_cameras(targets, rng, LEGACY_CAMERAS)
    rot = cams.rotation
    np.testing.assert_allclose(np.einsum("bji,bjk->bik", rot, rot), np.broadcast_to(np.eye(3), rot.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)
    distance = np.linalg.norm(camera_centres(cams) - targets, axis=-1)
    assert distance.min() >= 2.5 and distance.max() <= 8.0
    target_cam = cams.to_camera(targets[:, None, :])[:, 0]
    assert (target_cam[:, 2] > 0).all()
    np.testing.assert_allclose(np.linalg.norm(target_cam, axis=-1), distance, rtol=1e-9)
    # the subject is near the image centre: within ±16 % of the frame (off-centre ±15 % by design)
    offset = (cams.project_px(target_cam[:, None])[:, 0] - cams.intrinsics[:, 2:]) / cams.image_size
    assert np.abs(offset).max() < 0.16 and np.abs(offset).max() > 0.1
    hfov = np.rad2deg(2 * np.arctan(0.5 * cams.image_size[:, 0] / cams.intrinsics[:, 0]))
    assert hfov.min() >= 50.0 - 1e-9 and hfov.max() <= 90.0 + 1e-9


def test_camera_frame_keeps_the_body_and_projects_like_normalize(clips: list[Clip]) -> None:
    rng = np.random.default_rng(1)
    world = np.stack([clips[0].joints_m[:20].astype(np.float64)] * 64)  # (B, T, 17, 3)
    cams = sample_cameras(world[:, :, skeleton.ROOT].mean(1), rng)
    cam = cams.to_camera(world)
    assert (cam[..., 2] > 0.5).all()  # the whole body in front of every camera
    np.testing.assert_allclose(skeleton.bone_lengths(cam), skeleton.bone_lengths(world), rtol=1e-9)
    pixels = cams.project_px(cam)
    norm = normalize.normalize_pixels(pixels, cams.intrinsics[:, None, :])
    np.testing.assert_allclose(norm, normalize.project(cam), atol=1e-12)


# ------------------------------------------------------------------ noise
def test_film_steps_a_camera_back_that_a_joint_came_too_close_to() -> None:
    """Each sequence's camera is stepped back along its axis until no joint is closer than
    MIN_DEPTH_M, and the camera itself moves with it (evaluation's copy moved only the joints)."""
    rng = np.random.default_rng(3)
    world = rng.normal(0.0, 0.3, (2, 5, 17, 3)) + np.array([0.0, 1.0, 0.0])
    cameras = sample_cameras(world[:, :, skeleton.ROOT].mean(1), rng)
    depth = cameras.to_camera(world)[..., 2].min(axis=(1, 2))
    cameras.translation[0, 2] -= depth[0] - 0.1  # the first camera 0.1 m from its nearest joint
    cameras.translation[1, 2] += 2.0  # the second far enough already
    before = cameras.translation.copy()
    joints_cam = film(cameras, world)
    assert joints_cam[0, ..., 2].min() == pytest.approx(MIN_DEPTH_M)
    assert cameras.translation[0, 2] == pytest.approx(before[0, 2] + MIN_DEPTH_M - 0.1)
    np.testing.assert_array_equal(cameras.translation[1], before[1])
    np.testing.assert_allclose(cameras.to_camera(world), joints_cam, atol=1e-12)


def test_noise_scales_with_body_size() -> None:
    rng = np.random.default_rng(2)
    pixels = np.array([640.0, 360.0]) + rng.normal(0.0, 60.0, (32, 9, 17, 2))
    options = NoiseOptions(outlier_prob=0.05)
    small, conf_small = add_detector_noise(pixels, np.random.default_rng(3), options)
    centre = np.array([500.0, 200.0])
    big, conf_big = add_detector_noise(centre + 2.5 * (pixels - centre), np.random.default_rng(3), options)
    np.testing.assert_allclose(big - (centre + 2.5 * (pixels - centre)), 2.5 * (small - pixels), atol=1e-9)
    np.testing.assert_array_equal(conf_small, conf_big)


def test_noise_statistics_and_outlier_confidence() -> None:
    rng = np.random.default_rng(4)
    pixels = rng.normal(0.0, 100.0, (256, 12, 17, 2))
    options = NoiseOptions(outlier_prob=0.02, outlier_frames=(1, 1), limb_prob=0.0)  # single-frame outliers
    noisy, conf = add_detector_noise(pixels, np.random.default_rng(5), options)
    assert noisy.shape == pixels.shape and conf.shape == pixels.shape[:-1]
    assert conf.min() >= 0.0 and conf.max() <= 1.0
    error = np.linalg.norm(noisy - pixels, axis=-1) / normalize.pose_size(pixels)[..., 0]  # fraction of size
    low = conf < 0.5  # outliers get a confidence in [0, 0.5)
    assert 0.01 < low.mean() < 0.03
    assert np.median(error[low]) > 3 * np.median(error[~low])
    assert 0.01 < np.median(error[~low]) < 0.1
    # without outliers: a fixed per-joint bias plus AR(1) jitter, so neighbouring frames' errors
    # agree more than distant frames' errors, and distant ones still share the bias
    smooth, _ = add_detector_noise(pixels, np.random.default_rng(6), NoiseOptions(outlier_prob=0.0, limb_prob=0.0))
    delta = (smooth - pixels)[..., 0]
    near = np.corrcoef(delta[:, 5].ravel(), delta[:, 6].ravel())[0, 1]
    far = np.corrcoef(delta[:, 0].ravel(), delta[:, 11].ravel())[0, 1]
    assert near > far + 0.2 and far > 0.2


def test_noise_off_options() -> None:
    pixels = np.random.default_rng(6).normal(0.0, 50.0, (4, 5, 17, 2))
    quiet = NoiseOptions(bias_frac=0.0, jitter_frac=(0.0, 0.0), outlier_prob=0.0, limb_prob=0.0)
    noisy, conf = add_detector_noise(pixels, np.random.default_rng(7), quiet)
    np.testing.assert_allclose(noisy, pixels, atol=1e-12)
    assert conf.min() > 0.4


# ------------------------------------------------------------------ augmentation helpers
def test_rescale_bones_changes_lengths_and_keeps_directions() -> None:
    rng = np.random.default_rng(8)
    joints = rng.normal(0.0, 0.3, (3, 4, 17, 3))
    factors = rng.uniform(0.8, 1.25, (3, 16))
    out = rescale_bones(joints, factors)
    np.testing.assert_allclose(skeleton.bone_lengths(out), skeleton.bone_lengths(joints) * factors[:, None], rtol=1e-9)
    child = [c for c, _ in skeleton.BONES]
    parent = [p for _, p in skeleton.BONES]
    before = joints[..., child, :] - joints[..., parent, :]
    after = out[..., child, :] - out[..., parent, :]
    cosine = (before * after).sum(-1) / np.linalg.norm(before, axis=-1) / np.linalg.norm(after, axis=-1)
    np.testing.assert_allclose(cosine, 1.0, atol=1e-12)
    np.testing.assert_array_equal(out[..., skeleton.ROOT, :], joints[..., skeleton.ROOT, :])


# ------------------------------------------------------------------ mocap sampler
def constant_clips() -> list[Clip]:
    """Two clips, each one fixed pose: any window mixing them would hold two different poses."""
    rng = np.random.default_rng(10)
    pose = rng.normal(0.0, 0.25, (17, 3)) + np.array([0.0, 1.0, 0.0])
    a = np.repeat(pose[None], 5, axis=0).astype(np.float32)
    b = np.repeat((1.3 * pose + np.array([2.0, 0.0, 0.0]))[None], 12, axis=0).astype(np.float32)
    return [Clip("a", a, 30.0), Clip("b", b, 30.0)]


def test_index_windows_stay_inside_their_clip() -> None:
    windows, first = _index_windows(np.array([3, 4]), 3)
    np.testing.assert_array_equal(
        windows, [[0, 0, 0], [0, 0, 1], [0, 1, 2], [3, 3, 3], [3, 3, 4], [3, 4, 5], [4, 5, 6]]
    )
    np.testing.assert_array_equal(first, [0, 0, 0, 3, 3, 3, 3])


def test_mocap_windows_never_cross_clip_boundaries() -> None:
    options = SamplerOptions(window_frames=9, noise=False, mirror_prob=0.0, body=None)
    sampler = MocapWindowSampler(constant_clips(), options, seed=0)
    assert len(sampler) == 17
    clip_of = np.repeat([0, 1], [5, 12])
    assert (clip_of[sampler.windows] == clip_of[sampler.windows[:, -1:]]).all()
    batch = sampler.make_batch(np.arange(len(sampler)), np.random.default_rng(0), augment=False, noise=False)
    frames = batch.joints_cam_m  # (17, 9, 17, 3), one camera per window
    np.testing.assert_allclose(frames, np.repeat(frames[:, -1:], 9, axis=1), atol=1e-5)


@pytest.fixture(scope="module")
def sampler(clips: list[Clip]) -> MocapWindowSampler:
    return MocapWindowSampler(clips[:2], SamplerOptions(window_frames=9), seed=0)


def test_mocap_batch_shapes(sampler: MocapWindowSampler, clips: list[Clip]) -> None:
    assert len(sampler) == len(clips[0].joints_m) + len(clips[1].joints_m)
    batch = sampler.sample(16)
    assert batch.keypoints_norm.shape == (16, 9, 17, 2) and batch.keypoints_norm.dtype == np.float32
    assert batch.confidence.shape == (16, 9, 17) and batch.confidence.dtype == np.float32
    assert batch.joints_cam_m.shape == (16, 9, 17, 3) and batch.joints_cam_m.dtype == np.float32
    assert np.isfinite(batch.keypoints_norm).all() and (batch.joints_cam_m[..., 2] > 0).all()


def test_noise_free_2d_is_the_projection_of_the_3d(sampler: MocapWindowSampler) -> None:
    rows = np.arange(0, len(sampler), 7)
    batch = sampler.make_batch(rows, np.random.default_rng(1), augment=True, noise=False)
    np.testing.assert_allclose(batch.keypoints_norm, normalize.project(batch.joints_cam_m), atol=1e-5)
    np.testing.assert_array_equal(batch.confidence, 1.0)
    noisy = sampler.make_batch(rows, np.random.default_rng(1), augment=True, noise=True)
    assert np.abs(noisy.keypoints_norm - normalize.project(noisy.joints_cam_m)).max() > 1e-3


def test_unaugmented_windows_keep_the_mocap_body(sampler: MocapWindowSampler) -> None:
    rows = np.arange(0, len(sampler), 5)
    batch = sampler.make_batch(rows, np.random.default_rng(2), augment=False, noise=False)
    world = sampler.frames[sampler.windows[rows]]
    np.testing.assert_allclose(
        skeleton.bone_lengths(batch.joints_cam_m.astype(np.float64)), skeleton.bone_lengths(world), atol=1e-5
    )


def test_mirrored_windows_swap_sides(clips: list[Clip]) -> None:
    options = SamplerOptions(window_frames=3, noise=False, mirror_prob=1.0, body=None, warmup_prob=0.0)
    sampler = MocapWindowSampler(clips[:1], options, seed=0)
    rows = np.arange(len(sampler))
    mirrored = sampler.make_batch(rows, np.random.default_rng(3), augment=True, noise=False).joints_cam_m
    lengths = skeleton.bone_lengths(mirrored.astype(np.float64))
    original = skeleton.bone_lengths(sampler.frames[sampler.windows[rows]])
    swapped = skeleton.bone_lengths(skeleton.mirror(sampler.frames[sampler.windows[rows]]))
    np.testing.assert_allclose(lengths, swapped, atol=1e-5)
    left, right = skeleton.BONE_NAMES.index("l_hip-l_knee"), skeleton.BONE_NAMES.index("r_hip-r_knee")
    np.testing.assert_allclose(lengths[..., left], original[..., right], atol=1e-5)


def test_warmup_windows_repeat_an_early_frame(clips: list[Clip]) -> None:
    options = SamplerOptions(window_frames=9, noise=False, mirror_prob=0.0, body=None, warmup_prob=1.0)
    sampler = MocapWindowSampler(clips[:1], options, seed=0)
    joints = sampler.make_batch(np.arange(20, 40), np.random.default_rng(4), augment=True, noise=False).joints_cam_m
    np.testing.assert_allclose(joints[:, 0], joints[:, 1], atol=1e-6)  # frame 0 is a copy (cut ≥ 1)
    assert not np.allclose(joints[:, 0], joints[:, -1], atol=1e-3)


def test_sampler_rejects_no_clips() -> None:
    with pytest.raises(ValueError, match="no clips"):
        MocapWindowSampler([], SamplerOptions())


# ------------------------------------------------------------------ recorded 2D
def write_recorded(path: Path, frames: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A person standing 3 m from the camera, each joint jittered by 15 px a frame (random points
    are refused as another joint order's)."""
    rng = np.random.default_rng(seed)
    standing = rotations.rest_pose(skeleton.bone_lengths_from_height(1.7))  # metres, y up
    keypoints = np.array([640.0, 360.0]) + 900 * standing[:, :2] * [1.0, -1.0] / 3.0 + \
        rng.normal(0.0, 15.0, (frames, 17, 2))  # fmt: skip
    intrinsics = np.array([900.0, 900.0, 640.0, 360.0])
    np.savez(path, keypoints_2d=keypoints, intrinsics=intrinsics, confidence=rng.uniform(0, 1, (frames, 17)), fps=30.0)
    return keypoints, intrinsics


def test_recorded_2d_windows_have_no_3d(tmp_path: Path) -> None:
    keypoints, intrinsics = write_recorded(tmp_path / "a.npz", 6, 0)
    write_recorded(tmp_path / "b.npz", 10, 1)
    norm, conf, fps = load_recorded_2d(tmp_path / "a.npz")
    np.testing.assert_allclose(norm, normalize.normalize_pixels(keypoints, intrinsics))
    assert conf.shape == (6, 17) and fps == 30.0
    options = SamplerOptions(window_frames=4, mirror_prob=0.0)
    sampler = Recorded2DSampler([tmp_path / "a.npz", tmp_path / "b.npz"], options, seed=0)
    assert len(sampler) == 16
    batch = sampler.sample(8)
    assert batch.joints_cam_m is None
    assert batch.keypoints_norm.shape == (8, 4, 17, 2) and batch.confidence.shape == (8, 4, 17)
    clip_of = np.repeat([0, 1], [6, 10])
    assert (clip_of[sampler.windows] == clip_of[sampler.windows[:, -1:]]).all()
    # every sampled window is a real window of the recordings
    windows = sampler.frames[sampler.windows].astype(np.float32)
    for window in batch.keypoints_norm:
        assert np.abs(windows - window).max(axis=(1, 2, 3)).min() < 1e-6


def test_recorded_2d_mirroring_moves_confidence_with_its_joint(tmp_path: Path) -> None:
    keypoints, intrinsics = write_recorded(tmp_path / "a.npz", 5, 2)
    confidence = np.tile(np.linspace(0.1, 0.9, 17), (5, 1))  # each joint its own confidence
    np.savez(tmp_path / "a.npz", keypoints_2d=keypoints, intrinsics=intrinsics, confidence=confidence)
    options = SamplerOptions(window_frames=2, mirror_prob=1.0)
    batch = Recorded2DSampler([tmp_path / "a.npz"], options, seed=0).sample(4)
    norm = normalize.normalize_pixels(keypoints, intrinsics)
    expected = skeleton.mirror(norm) * np.array([-1.0, 1.0])
    for frame in batch.keypoints_norm.reshape(-1, 17, 2):  # every frame mirrored: x negated, sides swapped
        assert np.abs(expected - frame).max(axis=(1, 2)).min() < 1e-6
    mirrored_confidence = skeleton.mirror(confidence[0, :, None])[:, 0]
    np.testing.assert_allclose(batch.confidence, np.broadcast_to(mirrored_confidence, (4, 2, 17)), rtol=1e-6)


def test_recorded_2d_input_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "no_intrinsics.npz", keypoints_2d=np.zeros((3, 17, 2)))
    # read as `posecast lift` reads it: the same one-line errors
    with pytest.raises(ValueError, match=r"lacks arrays \['intrinsics'\]"):
        load_recorded_2d(tmp_path / "no_intrinsics.npz")
    np.savez(tmp_path / "openpose.npz", keypoints_2d=np.zeros((3, 25, 2)), intrinsics=np.ones(4))
    with pytest.raises(ValueError, match=r"must be \(F, 17, 2\) pixels .* got shape \(3, 25, 2\)"):
        load_recorded_2d(tmp_path / "openpose.npz")
    with pytest.raises(ValueError, match="no recorded 2D"):
        Recorded2DSampler([], SamplerOptions())


def test_recorded_2d_windows_skip_frames_without_a_person(tmp_path: Path) -> None:
    """A lift-format file marks a frame without the person by NaN keypoints or zero confidence (as
    MediaPipe footage has them): no window spans one, and a file of nothing but those is refused."""
    keypoints, intrinsics = write_recorded(tmp_path / "a.npz", 12, 3)
    confidence = np.full((12, 17), 0.9)
    keypoints[4] = np.nan  # lost for a frame
    confidence[8] = 0.0  # and another
    np.savez(tmp_path / "a.npz", keypoints_2d=keypoints, intrinsics=intrinsics, confidence=confidence)
    sampler = Recorded2DSampler([tmp_path / "a.npz"], SamplerOptions(window_frames=3, mirror_prob=0.0), seed=0)
    assert len(sampler) == 4 + 3 + 3  # runs 0-3, 5-7, 9-11
    assert np.isfinite(sampler.frames).all() and (sampler.confidence.max(axis=1) > 0).all()
    assert np.isfinite(sampler.sample(16).keypoints_norm).all()
    np.savez(tmp_path / "nobody.npz", keypoints_2d=keypoints, intrinsics=intrinsics, confidence=np.zeros((12, 17)))
    with pytest.raises(ValueError, match="no two consecutive frames with a person"):
        Recorded2DSampler([tmp_path / "nobody.npz"], SamplerOptions(window_frames=3))
