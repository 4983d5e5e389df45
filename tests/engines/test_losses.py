"""Training losses of the paper and the random views of the self-supervised cycle."""

from __future__ import annotations

import math

import pytest
import torch
from posecast.engines import skeleton
from posecast.engines.training import losses


def random_pose(generator: torch.Generator, batch: int = 4, frames: int = 1) -> torch.Tensor:
    return torch.randn(batch, frames, 17, 3, generator=generator, dtype=torch.float64)


def rotation_about_y(angle: torch.Tensor) -> torch.Tensor:
    c, s, z, o = angle.cos(), angle.sin(), torch.zeros_like(angle), torch.ones_like(angle)
    return torch.stack([torch.stack([c, z, s], -1), torch.stack([z, o, z], -1), torch.stack([-s, z, c], -1)], -2)


def test_kl_is_zero_at_the_prior_and_positive_elsewhere() -> None:
    g = torch.Generator().manual_seed(0)
    raw = torch.randn(512, 1, generator=g, dtype=torch.float64)
    matching = (raw - raw.mean()) / raw.std() * 0.1 + 0.94  # batch mean 0.94, std 0.1 exactly
    assert float(losses.kl_to_prior(matching, 0.94, 0.1)) == pytest.approx(0.0, abs=1e-12)
    shifted = float(losses.kl_to_prior(matching + 0.05, 0.94, 0.1))
    assert shifted == pytest.approx(0.05**2 / (2 * 0.1**2), rel=1e-9)  # (μ − μ̂)² / 2σ²
    narrow = (raw - raw.mean()) / raw.std() * 0.05 + 0.94
    expected = math.log(0.1 / 0.05) + 0.05**2 / (2 * 0.1**2) - 0.5
    assert float(losses.kl_to_prior(narrow, 0.94, 0.1)) == pytest.approx(expected, rel=1e-9)
    collapsed = torch.full((16, 1), 0.94, dtype=torch.float64)  # σ̂ clamped, large but finite
    assert 5.0 < float(losses.kl_to_prior(collapsed, 0.94, 0.1)) < math.inf


def test_kl_gradient_pulls_the_mean_towards_the_prior() -> None:
    scale = torch.linspace(1.1, 1.3, 32, dtype=torch.float64).requires_grad_()
    losses.kl_to_prior(scale, 0.94, 0.1).backward()
    assert scale.grad.sum() > 0  # lowering the scales lowers the loss


def test_random_rotations_are_proper_and_within_range() -> None:
    g = torch.Generator().manual_seed(1)
    rot = losses.random_rotations(4000, g).double()
    eye = torch.eye(3, dtype=torch.float64).expand(4000, 3, 3)
    torch.testing.assert_close(rot @ rot.transpose(1, 2), eye, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(4000, dtype=torch.float64), atol=1e-6, rtol=0)
    # R = Rz(roll) · Rx(elevation) · Ry(azimuth): recover the three angles
    elevation = torch.rad2deg(torch.asin(rot[:, 2, 1]))
    azimuth = torch.rad2deg(torch.atan2(-rot[:, 2, 0], rot[:, 2, 2]))
    roll = torch.rad2deg(torch.atan2(-rot[:, 0, 1], rot[:, 1, 1]))
    for angle, limit in ((azimuth, 140.0), (elevation, 20.0), (roll, 10.0)):
        assert angle.abs().max() <= limit + 1e-3
        assert angle.abs().max() > 0.95 * limit  # the whole range is used
        assert abs(float(angle.mean())) < 0.05 * limit  # and symmetric
    again = losses.random_rotations(4000, torch.Generator().manual_seed(1))
    torch.testing.assert_close(again, rot.float())  # seeded: reproducible


def test_random_rotations_respect_custom_ranges() -> None:
    rot = losses.random_rotations(500, torch.Generator().manual_seed(2), azimuth_deg=0.0, elevation_deg=0.0)
    roll = torch.rad2deg(torch.atan2(rot[:, 1, 0], rot[:, 0, 0]))
    torch.testing.assert_close(rot[:, 2], torch.tensor([0.0, 0.0, 1.0]).expand(500, 3))
    assert roll.abs().max() <= 10.0 + 1e-4


def test_bone_lengths_match_numpy_skeleton() -> None:
    pose = random_pose(torch.Generator().manual_seed(3), 2, 3)
    torch.testing.assert_close(losses.bone_lengths(pose), torch.from_numpy(skeleton.bone_lengths(pose.numpy())))


def test_bone_consistency_is_zero_for_a_rigid_sequence() -> None:
    g = torch.Generator().manual_seed(4)
    pose = random_pose(g, 6, 1)[:, 0]  # (B, 17, 3)
    angles = torch.linspace(0.0, 2.0, 12, dtype=torch.float64)
    rigid = torch.einsum("tij,bkj->btki", rotation_about_y(angles), pose) + torch.randn(6, 12, 1, 3, generator=g)
    assert float(losses.bone_consistency(rigid, gap=5, generator=g)) == pytest.approx(0.0, abs=1e-20)
    assert float(losses.bone_consistency(rigid[:, :3], gap=5)) == pytest.approx(0.0, abs=1e-20)  # T ≤ gap
    growing = rigid * torch.linspace(1.0, 1.5, 12, dtype=torch.float64)[None, :, None, None]
    assert float(losses.bone_consistency(growing, gap=5, generator=g)) > 1e-3


def test_motion_consistency() -> None:
    g = torch.Generator().manual_seed(5)
    a = random_pose(g, 3, 9)
    assert float(losses.motion_consistency(a, a.clone(), gap=3)) == 0.0
    # a constant offset between the views does not change the motion
    assert float(losses.motion_consistency(a, a + 2.0, gap=3)) == pytest.approx(0.0, abs=1e-20)
    b = a + 0.1 * random_pose(g, 3, 9)
    assert float(losses.motion_consistency(a, b, gap=3)) > 1e-3
    assert float(losses.motion_consistency(a[:, :3], b[:, :3], gap=3)) == 0.0  # too short for the gap


def test_lsgan_terms() -> None:
    real, fake = torch.ones(8, 1), torch.zeros(8, 1)
    assert float(losses.lsgan_discriminator(real, fake)) == 0.0  # a perfect discriminator
    assert float(losses.lsgan_generator(fake)) == 1.0  # the generator is caught
    assert float(losses.lsgan_generator(real)) == 0.0
    assert float(losses.lsgan_discriminator(fake, real)) == 2.0


def test_mse_sums_coordinates_and_averages_points() -> None:
    a = torch.zeros(2, 17, 3)
    b = torch.zeros(2, 17, 3)
    b[..., 0] = 3.0
    b[..., 1] = 4.0
    assert float(losses.mse(a, b)) == 25.0


def test_the_weighted_loss_ignores_what_weighs_nothing() -> None:
    target = torch.zeros(2, 3, 17, 3)
    lifted = target.clone()
    lifted[..., skeleton.JOINT_INDEX["l_ankle"], :] = 5.0  # wildly off, but weighed 0
    weight = torch.ones(2, 3, 17)
    weight[..., skeleton.JOINT_INDEX["l_ankle"]] = 0.0
    assert float(losses.mse(lifted, target, weight)) == 0.0
    assert float(losses.mse(lifted, target)) > 0.0
    lifted[..., skeleton.JOINT_INDEX["head"], :] = 1.0
    # the mean over the joints that count: 16 of 17 weigh 1, one of them off by √3
    assert float(losses.mse(lifted, target, weight)) == pytest.approx(3.0 / 16)
