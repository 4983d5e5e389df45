"""Training losses (torch) from the paper (Yu et al., ICCV 2021), and the random views of the self-supervised cycle.

Units: poses in the lifter's canonical frame (root at depth ``c``, RMS size ≈ 1); 2D terms
are multiplied by ``c`` so they are in the same units as 3D at the root's depth.
"""

from __future__ import annotations

import math

import torch

from .. import skeleton

_CHILD = torch.tensor([c for c, _ in skeleton.BONES])
_PARENT = torch.tensor([p for _, p in skeleton.BONES])


def mse(a: torch.Tensor, b: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared distance of ``(..., 3)`` points; ``weight`` ``(...)``: a weighted mean instead."""
    squared = ((a - b) ** 2).sum(-1)
    if weight is None:
        return squared.mean()
    return (squared * weight).sum() / weight.sum().clamp_min(1e-6)


def bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    """``(..., 17, 3)`` → ``(..., 16)``."""
    return (joints[..., _CHILD, :] - joints[..., _PARENT, :]).norm(dim=-1)


def bone_consistency(joints: torch.Tensor, gap: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """L_bone: bone lengths of the current frame against a frame at least ``gap`` earlier,
    relative to their mean bone length (scale-free, so it cannot be lowered by shrinking).

    ``joints`` is ``(B, T, 17, 3)``; with ``T <= gap`` the first frame is used.
    """
    t = joints.shape[1]
    lengths = bone_lengths(joints)
    if t <= gap:
        other = lengths[:, 0]
    else:
        idx = torch.randint(0, t - gap, (joints.shape[0],), generator=generator)
        other = lengths[torch.arange(joints.shape[0]), idx]
    # relative to the pair's mean bone length: a pose that shrinks as a whole gains nothing
    mean_length = (0.5 * (lengths[:, -1] + other)).mean(-1, keepdim=True).clamp_min(1e-6)
    return (((lengths[:, -1] - other) / mean_length) ** 2).sum(-1).mean()


def motion_consistency(joints_a: torch.Tensor, joints_b: torch.Tensor, gap: int) -> torch.Tensor:
    """L_tmc: motion between frames ``gap`` apart must agree across the two views ``(B, T, 17, 3)``."""
    if joints_a.shape[1] <= gap:
        return joints_a.new_zeros(())
    motion_a = joints_a[:, gap:] - joints_a[:, :-gap]
    motion_b = joints_b[:, gap:] - joints_b[:, :-gap]
    return mse(motion_a, motion_b)


def kl_to_prior(scale: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """L_kl = KL(N(μ̂, σ̂) ‖ N(μ, σ)) of the batch's predicted scales against the dataset prior."""
    mu_hat = scale.mean()
    sigma_hat = scale.std().clamp_min(1e-6)
    return math.log(std) - torch.log(sigma_hat) + (sigma_hat**2 + (mean - mu_hat) ** 2) / (2 * std * std) - 0.5


def lsgan_generator(fake_score: torch.Tensor) -> torch.Tensor:
    return ((fake_score - 1.0) ** 2).mean()


def lsgan_discriminator(real_score: torch.Tensor, fake_score: torch.Tensor) -> torch.Tensor:
    return ((real_score - 1.0) ** 2).mean() + (fake_score**2).mean()


def random_rotations(
    batch: int, generator: torch.Generator | None = None, azimuth_deg: float = 140.0,
    elevation_deg: float = 20.0, roll_deg: float = 10.0,
) -> torch.Tensor:  # fmt: skip
    """Random camera-frame rotations ``(B, 3, 3)`` for the lift–rotate–reproject cycle.

    Azimuth turns about the camera's vertical (y) axis, elevation about x, roll about z.
    """

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(batch, generator=generator) * 2 - 1) * math.radians(limit)

    az, el, ro = uniform(azimuth_deg), uniform(elevation_deg), uniform(roll_deg)
    zeros, ones = torch.zeros(batch), torch.ones(batch)

    def rot(c: torch.Tensor, s: torch.Tensor, axis: int) -> torch.Tensor:
        if axis == 1:
            rows = [[c, zeros, s], [zeros, ones, zeros], [-s, zeros, c]]
        elif axis == 0:
            rows = [[ones, zeros, zeros], [zeros, c, -s], [zeros, s, c]]
        else:
            rows = [[c, -s, zeros], [s, c, zeros], [zeros, zeros, ones]]
        return torch.stack([torch.stack(r, -1) for r in rows], -2)

    return rot(ro.cos(), ro.sin(), 2) @ rot(el.cos(), el.sin(), 0) @ rot(az.cos(), az.sin(), 1)
