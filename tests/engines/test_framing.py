"""Training windows framed like a webcam at a desk: the legs cut off at the image's bottom edge
and guessed as MediaPipe guesses them (the config key and the weighted 3D loss: test_config.py,
test_losses.py, which need PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.data.framing import FramingOptions, cut_at_bottom
from posecast.engines.training.data.windows import MocapWindowSampler, SamplerOptions, WindowBatch

J = skeleton.JOINT_INDEX
LEGS = [J[n] for n in ("l_knee", "l_ankle", "r_knee", "r_ankle")]


def _walking_pixels(windows: int, frames: int = 5) -> np.ndarray:
    """Upright people in pixels (y down): ``(B, T, 17, 2)``; the knees bent sideways in the image,
    so a guess that hangs them straight down is visible."""
    up = {"pelvis": (0, 0), "r_hip": (-20, 0), "r_knee": (-60, 90), "r_ankle": (-50, 180), "l_hip": (20, 0),
          "l_knee": (70, 80), "l_ankle": (90, 170), "spine": (0, -50), "thorax": (0, -100), "neck": (0, -120),
          "head": (0, -140), "l_shoulder": (35, -100), "l_elbow": (40, -40), "l_wrist": (40, 10),
          "r_shoulder": (-35, -100), "r_elbow": (-40, -40), "r_wrist": (-40, 10)}  # fmt: skip
    pose = np.array([up[name] for name in skeleton.JOINT_NAMES], dtype=np.float64) + [320.0, 240.0]
    return np.broadcast_to(pose, (windows, frames, skeleton.NUM_JOINTS, 2)).copy()


def test_the_legs_below_the_edge_are_guessed_hanging_and_left_out_of_the_loss() -> None:
    pixels = _walking_pixels(400)
    confidence = np.full(pixels.shape[:-1], 0.9)
    options = FramingOptions(prob=0.5, cut=(0.6, 0.9))  # the edge between the hips and the knees
    out, conf, weight = cut_at_bottom(pixels, confidence, np.random.default_rng(0), options)
    assert out.shape == pixels.shape and conf.shape == weight.shape == confidence.shape
    cut = (weight == 0).any(axis=(1, 2))
    assert 0.4 < cut.mean() < 0.6
    # untouched windows are exactly the input; the input itself is not modified
    np.testing.assert_array_equal(out[~cut], pixels[~cut])
    np.testing.assert_array_equal(pixels, _walking_pixels(400))
    # cut windows: knees and ankles weigh 0 in the 3D loss, everything else 1; the upper body is as seen
    assert (weight[cut][..., LEGS] == 0).all() and (np.delete(weight[cut], LEGS, axis=-1) == 1).all()
    upper = [J[n] for n in ("thorax", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_wrist")]
    np.testing.assert_array_equal(out[cut][..., upper, :], pixels[cut][..., upper, :])
    # the guessed legs hang within a few degrees of the image's vertical (the real ones are bent out)
    thigh = out[cut][..., J["l_knee"], :] - out[cut][..., J["l_hip"], :]
    angle = np.degrees(np.abs(np.arctan2(thigh[..., 0], thigh[..., 1])))
    assert np.median(angle) < 5.0 and angle.max() < 25.0
    real = pixels[0, 0, J["l_knee"]] - pixels[0, 0, J["l_hip"]]
    assert np.degrees(np.arctan2(real[0], real[1])) > 25.0
    # ... with MediaPipe's low visibility
    assert conf[cut][..., J["l_ankle"]].max() <= 0.1 and conf[cut][..., J["l_knee"]].max() <= 0.3
    assert (conf[~cut] == 0.9).all()


def test_hips_below_the_edge_move_and_the_pelvis_follows() -> None:
    pixels = _walking_pixels(300)
    options = FramingOptions(prob=1.0, cut=(0.35, 0.4))  # above the hips: they are guessed too
    out, conf, _ = cut_at_bottom(pixels, np.ones(pixels.shape[:-1]), np.random.default_rng(1), options)
    hips = [J["l_hip"], J["r_hip"]]
    moved = out[..., hips, :] - pixels[..., hips, :]
    assert np.abs(moved).max() > 5.0  # pixels; the torso is 100
    np.testing.assert_allclose(out[..., J["pelvis"], :], out[..., hips, :].mean(axis=-2), atol=1e-9)
    assert (conf[..., hips] <= 0.65).all()


def test_nobody_is_cut_who_is_not_upright_in_the_image() -> None:
    pixels = _walking_pixels(50)
    upside_down = 2 * pixels[..., :1, :] - pixels  # mirrored through the pelvis: knees above the chest
    out, _, weight = cut_at_bottom(upside_down, np.ones(pixels.shape[:-1]), np.random.default_rng(2),
                                   FramingOptions(prob=1.0))  # fmt: skip
    np.testing.assert_array_equal(out, upside_down)
    assert (weight == 1).all()


def test_framing_options_are_checked() -> None:
    with pytest.raises(ValueError, match="prob must be in"):
        FramingOptions(prob=1.5)
    with pytest.raises(ValueError, match="cut must be"):
        FramingOptions(cut=(0.8, 0.2))


def test_the_sampler_and_mixed_batches_carry_the_weights() -> None:
    pose = np.zeros((17, 3))
    pose[:, :2] = _walking_pixels(1, 1)[0, 0] / 200.0 - [1.6, 1.2]
    pose[:, 1] *= -1  # world Y up
    pose[:, 1] += 1.0
    clip = Clip("walk", np.repeat(pose[None], 30, 0).astype(np.float32), 30.0)
    options = SamplerOptions(window_frames=3, body=None, framing=FramingOptions(prob=1.0))
    batch = MocapWindowSampler([clip], options, seed=0).sample(64)
    assert batch.target_weight.shape == (64, 3, 17) and (batch.target_weight[..., LEGS] == 0).any()
    plain = MocapWindowSampler([clip], SamplerOptions(window_frames=3, body=None), seed=0).sample(8)
    assert plain.target_weight is None
    both = WindowBatch.concatenate([batch, plain])
    assert both.target_weight.shape == (72, 3, 17) and (both.target_weight[64:] == 1).all()
    assert WindowBatch.concatenate([plain, plain]).target_weight is None
