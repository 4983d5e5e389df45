"""The networks: shapes, the T = 1 lifter on longer windows, the scale net's start, the depth model."""

from __future__ import annotations

import pytest
import torch
from posecast.engines import normalize, skeleton
from posecast.engines.networks import (
    Lifter,
    ModelConfig,
    PoseGenerator,
    PoseModel,
    ScaleNet,
    lift_to_3d,
)
from posecast.engines.training.discriminator import Discriminator


def windows(batch: int, frames: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(batch, 1, 17, 2, generator=g) * 0.1
    return base + 0.005 * torch.randn(batch, frames, 17, 2, generator=g)


@pytest.mark.parametrize("frames", [27, 1])
def test_generator_shapes(frames: int) -> None:
    torch.manual_seed(0)
    generator = PoseGenerator(ModelConfig(window_frames=frames, width=32, blocks=1, scale_width=16))
    joints, scale = generator(normalize.canonicalize(windows(4, frames)))
    assert joints.shape == (4, frames, 17, 3) and scale.shape == (4, frames)  # one scale per frame
    assert (joints[..., 2] >= 1.0).all()
    torch.testing.assert_close(scale, torch.ones(4, frames))  # an untrained scale net says 1


def test_single_frame_lifter_runs_on_a_longer_window() -> None:
    torch.manual_seed(0)
    lifter = Lifter(ModelConfig(window_frames=1, width=32, blocks=1)).eval()
    window = normalize.canonicalize(windows(3, 9))
    depth = lifter(window)
    assert depth.shape == (3, 9, 17)
    # frame by frame: each frame's depth depends on that frame alone
    for t in (0, 4, 8):
        torch.testing.assert_close(depth[:, t], lifter(window[:, t : t + 1])[:, 0])
    temporal = Lifter(ModelConfig(window_frames=27, width=32, blocks=1))
    with pytest.raises(ValueError, match="lifter expects 27 frames, got 9"):
        temporal(window)


def test_scale_net_starts_at_exactly_one_and_stays_in_range() -> None:
    torch.manual_seed(0)
    net = ScaleNet(width=16, dropout=0.0).train()
    poses = normalize.canonicalize(windows(8, 1)[:, 0])
    assert torch.equal(net(poses), torch.ones(8, 1))
    with torch.no_grad():
        net.net[-1].bias.fill_(100.0)
    assert torch.allclose(net(poses), torch.full((8, 1), torch.e), atol=1e-5)  # exp(tanh(·)) ≤ e


def test_lift_to_3d_clamps_depth() -> None:
    scaled = torch.full((2, 17, 2), 0.1)
    depth = torch.zeros(2, 17)
    depth[0, 3] = -50.0  # far in front of the camera: clamped to depth 1
    depth[1, 5] = 2.5
    joints = lift_to_3d(scaled, depth)
    assert joints.shape == (2, 17, 3)
    assert joints[0, 3].tolist() == pytest.approx([0.1, 0.1, 1.0])
    assert joints[1, 5].tolist() == pytest.approx([0.1 * 12.5, 0.1 * 12.5, 12.5])
    assert joints[0, 0, 2] == normalize.CAMERA_DISTANCE
    torch.testing.assert_close(normalize.project(joints), scaled)  # lifting keeps the 2D


def test_pose_model_outputs_the_current_frame_root_relative() -> None:
    torch.manual_seed(0)
    generator = PoseGenerator(ModelConfig(window_frames=9, width=32, blocks=1, scale_width=16)).eval()
    model = PoseModel(generator).eval()
    keypoints = windows(5, 9)
    joints, scale = model(keypoints)
    assert joints.shape == (5, 17, 3) and scale.shape == (5, 1)
    torch.testing.assert_close(joints[:, skeleton.ROOT], torch.zeros(5, 3))
    full, _ = generator(normalize.canonicalize(keypoints))
    root_view = full[:, -1] - full[:, -1, :1]
    root_norm = keypoints[:, -1, skeleton.ROOT]
    torch.testing.assert_close(joints, normalize.to_camera_axes(root_view, root_norm))
    # the lifter sees only the canonical window: the same poses seen in another direction (each
    # frame's rays turned onto a new root ray) give the same root-view pose, turned by that ray
    rays = torch.cat([normalize.centre_on_root(keypoints), torch.ones(5, 9, 17, 1)], -1)
    turned = normalize.to_camera_axes(rays, torch.tensor([0.3, -0.2]).expand(5, 9, 2))
    shifted = normalize.project(turned)
    moved, _ = model(shifted)
    assert not torch.allclose(moved, joints, atol=1e-3)
    torch.testing.assert_close(
        normalize.to_root_view(moved, shifted[:, -1, skeleton.ROOT]), root_view, atol=1e-5, rtol=1e-5
    )


def test_cutting_the_lifter_to_the_current_frame_keeps_its_numbers() -> None:
    torch.manual_seed(0)
    generator = PoseGenerator(ModelConfig(window_frames=9, width=32, blocks=1, scale_width=16)).eval()
    scaled, _ = generator.scaled_window(normalize.canonicalize(windows(4, 9)))
    full = generator.lifter(scaled)
    torch.testing.assert_close(generator.lifter.current_depth(scaled), full[:, -1])
    generator.lifter.keep_current_frame_only()
    assert generator.lifter.net[-1].weight.shape == (17, 32)
    torch.testing.assert_close(generator.lifter.current_depth(scaled), full[:, -1])
    with pytest.raises(RuntimeError, match="use current_depth"):
        generator.lifter(scaled)


def test_ablation_generator_has_no_scale_net() -> None:
    generator = PoseGenerator(ModelConfig(window_frames=3, width=16, blocks=0, use_scale_net=False)).eval()
    assert generator.scale_net is None
    _, scale = generator(normalize.canonicalize(windows(2, 3)))
    assert torch.equal(scale, torch.ones(2, 3))


def test_discriminator_scores_single_frames() -> None:
    scores = Discriminator(width=32)(normalize.canonicalize(windows(6, 1)[:, 0]))
    assert scores.shape == (6, 1)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"window_frames": 0}, "window_frames must be >= 1, got 0"),
    ({"width": 4}, "width must be >= 8 and blocks >= 0, got 4, 3"),
    ({"blocks": -1}, "width must be >= 8 and blocks >= 0, got 1024, -1"),
])  # fmt: skip
def test_model_config_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ModelConfig(**kwargs)
