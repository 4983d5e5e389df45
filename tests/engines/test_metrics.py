"""Pose error metrics: MPJPE, N-MPJPE, P-MPJPE, acceleration error, bone-length CV."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import metrics, skeleton


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.fixture
def poses() -> np.ndarray:
    """``(8, 17, 3)`` random poses, metres."""
    return np.random.default_rng(0).normal(0.0, 0.4, (8, 17, 3))


def test_identical_poses_have_zero_error(poses: np.ndarray) -> None:
    for metric in (metrics.mpjpe, metrics.n_mpjpe, metrics.p_mpjpe):
        errors = metric(poses, poses.copy())
        assert errors.shape == (8,)
        np.testing.assert_allclose(errors, 0.0, atol=1e-12)


def test_mpjpe_of_a_known_offset(poses: np.ndarray) -> None:
    moved = poses.copy()
    moved[:, 3] += np.array([0.03, 0.04, 0.0])  # one joint 5 cm off
    np.testing.assert_allclose(metrics.mpjpe(moved, poses), 0.05 / 17)
    np.testing.assert_allclose(metrics.mpjpe(poses + np.array([1.0, -2.0, 3.0]), poses), 0.0, atol=1e-12)
    root_moved = poses.copy()
    root_moved[:, skeleton.ROOT] += np.array([0.0, 0.1, 0.0])  # every other joint 10 cm off after alignment
    np.testing.assert_allclose(metrics.mpjpe(root_moved, poses), 0.1 * 16 / 17)


def test_n_mpjpe_removes_scale_only(poses: np.ndarray) -> None:
    np.testing.assert_allclose(metrics.n_mpjpe(2.5 * poses, poses), 0.0, atol=1e-12)
    assert (metrics.mpjpe(2.5 * poses, poses) > 0.1).all()
    rng = np.random.default_rng(1)
    rotated = poses @ random_rotation(rng).T
    assert (metrics.n_mpjpe(rotated, poses) > 0.05).all()


def test_p_mpjpe_removes_a_similarity_but_not_a_reflection(poses: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    aligned = np.stack([1.7 * p @ random_rotation(rng).T + rng.normal(0.0, 3.0, 3) for p in poses])
    np.testing.assert_allclose(metrics.p_mpjpe(aligned, poses), 0.0, atol=1e-9)
    assert (metrics.mpjpe(aligned, poses) > 0.1).all()
    reflected = poses * np.array([-1.0, 1.0, 1.0])
    assert (metrics.p_mpjpe(reflected, poses) > 0.05).all()


def test_n_mpjpe_uses_the_least_squares_scale(poses: np.ndarray) -> None:
    noisy = 0.6 * poses + np.random.default_rng(3).normal(0.0, 0.02, poses.shape)
    rel_p, rel_g = skeleton.root_relative(noisy), skeleton.root_relative(poses)
    best = (rel_p * rel_g).sum((1, 2)) / (rel_p * rel_p).sum((1, 2))
    np.testing.assert_allclose(metrics.n_mpjpe(noisy, poses), metrics.mpjpe(noisy * best[:, None, None], poses))
    assert (best > 1.5).all() and (metrics.n_mpjpe(noisy, poses) < metrics.mpjpe(noisy, poses)).all()


def test_acceleration_error() -> None:
    t = np.arange(10, dtype=np.float64)[:, None, None]
    gt = np.zeros((10, 17, 3)) + 0.1 * t  # constant velocity: no acceleration
    np.testing.assert_allclose(metrics.acceleration_error(gt + 5.0, gt), 0.0, atol=1e-12)
    accelerating = gt + np.array([0.0, 0.5, 0.0]) * t**2  # second difference 1.0 along y
    assert metrics.acceleration_error(accelerating, gt) == pytest.approx(1.0)
    assert np.isnan(metrics.acceleration_error(gt[:2], gt[:2]))


def test_bone_length_cv(poses: np.ndarray) -> None:
    rng = np.random.default_rng(4)
    sequence = np.stack([poses[0] @ random_rotation(rng).T for _ in range(20)])  # one rigid body
    assert metrics.bone_length_cv(sequence) == pytest.approx(0.0, abs=1e-12)
    # every bone alternately 10 % longer and 10 % shorter: std / mean = 0.1
    factors = np.where(np.arange(20) % 2 == 0, 1.1, 0.9)
    root = sequence[:, :1]
    stretched = np.empty_like(sequence)
    stretched[:, 0] = sequence[:, 0]
    for child, parent in skeleton.BONES:
        bone = sequence[:, child] - sequence[:, parent]
        stretched[:, child] = stretched[:, parent] + factors[:, None] * bone
    assert metrics.bone_length_cv(stretched) == pytest.approx(0.1, rel=1e-9)
    assert np.allclose(stretched[:, 0], root[:, 0])
