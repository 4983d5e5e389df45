"""Bone-length smoothing and the One Euro filter on synthetic sequences with known answers.

The smoother's subject is a real walking mocap clip (CMU take 08_04, typical proportions: see the
``walk_joints`` fixture) whose bone lengths are changed by up to ±10 % per bone (so the
typical-adult reference is wrong and the proportions must adapt), then corrupted per frame with
a global scale change (what the lifter's arbitrary units do) and per-bone length noise (lifting
errors).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.realtime.lifting.smoothing import (
    BoneLengthSmoother,
    BoneLengthSmootherOptions,
    OneEuroFilter,
    OneEuroOptions,
)

FPS = 30
FRAME_NS = 10**9 // FPS
CHILD = np.asarray([c for c, _ in skeleton.BONES])
PARENT = np.asarray([p for _, p in skeleton.BONES])


@pytest.fixture(scope="module")
def walk(walk_joints: np.ndarray) -> np.ndarray:
    """Root-relative camera-axes (y down) joints ``(F, 17, 3)`` metres of a 4 s walk at 30 fps."""
    joints = walk_joints.astype(np.float64) * [-1.0, -1.0, 1.0]  # Y up → y down (a rotation about z)
    return joints - joints[:, :1]


def _units(joints: np.ndarray) -> np.ndarray:
    vectors = joints[..., CHILD, :] - joints[..., PARENT, :]
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def _build(units: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Joints ``(F, 17, 3)`` from bone directions ``(F, 16, 3)`` and lengths ``(F, 16)``."""
    joints = np.zeros((units.shape[0], 17, 3))
    for b, (child, parent) in enumerate(skeleton.BONES):
        joints[:, child] = joints[:, parent] + units[:, b] * lengths[:, b, None]
    return joints


def _subject(walk: np.ndarray, seed: int, noise: float, outliers: float = 0.0):
    """(true lengths (16,), height, corrupted poses (F, 17, 3) in arbitrary units, directions)."""
    rng = np.random.default_rng(seed)
    true = skeleton.bone_lengths(walk).mean(0) * rng.uniform(0.9, 1.1, 16)
    frames = walk.shape[0]
    lengths = true * (1 + noise * rng.standard_normal((frames, 16)))
    bad = rng.random((frames, 16)) < outliers
    lengths[bad] *= rng.choice([0.5, 1.6], bad.sum())
    lengths *= rng.uniform(0.85, 1.15, (frames, 1)) * 4.2  # per-frame global scale, arbitrary units
    units = _units(walk)
    return true, skeleton.height_from_bone_lengths(true), _build(units, lengths), units


def _run(smoother: BoneLengthSmoother, poses: np.ndarray, confidence=None, start: int = 0) -> np.ndarray:
    return np.stack([
        smoother.process(p, (start + i) * FRAME_NS, None if confidence is None else confidence[i])
        for i, p in enumerate(poses)
    ])  # fmt: skip


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(np.sum(a * b, -1), -1.0, 1.0)))


def test_global_scale_changes_alone_cancel_from_the_first_frame(walk):
    true, height, poses, units = _subject(walk, seed=0, noise=0.0)
    out = _run(BoneLengthSmoother(BoneLengthSmootherOptions.from_height(height)), poses)
    np.testing.assert_allclose(skeleton.bone_lengths(out), np.broadcast_to(true, (len(out), 16)), rtol=1e-9)
    assert _angle_deg(_units(out), units).max() < 1e-4
    assert np.abs(out[:, 0]).max() == 0.0  # root at the origin


def test_noisy_lengths_converge_within_two_seconds_and_stay_steady(walk):
    true, height, poses, units = _subject(walk, seed=1, noise=0.05)
    reference = skeleton.bone_lengths_from_height(height)
    assert np.abs(reference / true - 1).max() > 0.05  # the typical adult is not this subject
    smoother = BoneLengthSmoother(BoneLengthSmootherOptions.from_height(height))
    assert not smoother.converged
    out = _run(smoother, poses)
    lengths = skeleton.bone_lengths(out)
    error = np.abs(lengths / true - 1)
    assert error[2 * FPS :].max() < 0.025  # every bone within 2.5 % from 2 s on
    assert error[-1].max() < 0.02
    steady = lengths[2 * FPS :]
    assert ((steady.max(0) - steady.min(0)) / steady.mean(0)).max() < 0.01  # constant within 1 %
    assert _angle_deg(_units(out), units).max() < 1e-4  # directions kept
    assert smoother.converged
    np.testing.assert_allclose(smoother.bone_lengths_m, lengths[-1], rtol=1e-9)
    assert skeleton.height_from_bone_lengths(smoother.bone_lengths_m) == pytest.approx(height, rel=1e-9)


def test_outlier_frames_barely_move_the_estimate(walk):
    true, height, poses, _ = _subject(walk, seed=2, noise=0.05, outliers=0.05)
    out = _run(BoneLengthSmoother(BoneLengthSmootherOptions.from_height(height)), poses)
    lengths = skeleton.bone_lengths(out)
    assert np.abs(lengths[2 * FPS :] / true - 1).max() < 0.04
    steady = lengths[2 * FPS :]
    assert ((steady.max(0) - steady.min(0)) / steady.mean(0)).max() < 0.01


def test_low_confidence_bones_are_ignored(walk):
    true, height, poses, units = _subject(walk, seed=3, noise=0.0)
    lengths = skeleton.bone_lengths(poses)
    lengths[::2, 12] *= 2.0  # every other frame the left forearm is twice as long ...
    poses = _build(units, lengths)
    confidence = np.full((len(poses), 17), 0.9)
    confidence[::2, 13] = 0.1  # ... and the left wrist was barely seen
    out = _run(BoneLengthSmoother(BoneLengthSmootherOptions.from_height(height)), poses, confidence)
    np.testing.assert_allclose(skeleton.bone_lengths(out)[-1], true, rtol=1e-6)
    corrupted = _run(BoneLengthSmoother(BoneLengthSmootherOptions.from_height(height)), poses)
    assert skeleton.bone_lengths(corrupted)[-1, 12] > 1.15 * true[12]  # without confidence: off, to its +20 % bound


def test_fixed_lengths_are_used_as_given(walk):
    true, _, poses, units = _subject(walk, seed=4, noise=0.1)
    smoother = BoneLengthSmoother(BoneLengthSmootherOptions(tuple(true), fixed_lengths=True))
    assert smoother.converged
    out = _run(smoother, poses)
    np.testing.assert_allclose(skeleton.bone_lengths(out), np.broadcast_to(true, (len(out), 16)), rtol=1e-9)
    assert _angle_deg(_units(out), units).max() < 1e-4


def test_reset_starts_over_for_a_new_subject(walk):
    first_true, height, first, _ = _subject(walk, seed=5, noise=0.03)
    second_true, _, second, _ = _subject(walk, seed=6, noise=0.03)
    second_true = second_true * height / skeleton.height_from_bone_lengths(second_true)  # same height
    second *= height / skeleton.height_from_bone_lengths(skeleton.bone_lengths(second).mean(0))
    assert np.abs(second_true / first_true - 1).max() > 0.08
    options = BoneLengthSmootherOptions.from_height(height)
    smoother = BoneLengthSmoother(options)
    _run(smoother, first)
    smoother.reset()
    assert not smoother.converged
    np.testing.assert_array_equal(smoother.bone_lengths_m, options.reference_lengths_m)
    out = _run(smoother, second, start=len(first) + 100)
    assert np.abs(skeleton.bone_lengths(out)[2 * FPS :] / second_true - 1).max() < 0.03


@pytest.mark.parametrize("fps", [30, 5])
def test_lengths_settle_without_jumps_then_lock(walk, fps):
    # issue 10.7: a published bone changes by at most max_rate_frac_per_s of its reference length per second,
    # the height stays the subject's, and the lengths lock within about 2 s, constant from then on
    true, height, poses, _ = _subject(walk, seed=7, noise=0.08)
    poses, frame_ns = poses[:: 30 // fps], 10**9 // fps
    options = BoneLengthSmootherOptions.from_height(height)
    smoother = BoneLengthSmoother(options)
    out, converged, published = [], [], []
    for i, pose in enumerate(poses):
        out.append(smoother.process(pose, i * frame_ns))
        converged.append(smoother.converged)
        published.append(smoother.bone_lengths_m)
    lengths = skeleton.bone_lengths(np.array(out))
    steps = np.abs(np.diff(lengths, axis=0))
    limit = options.max_rate_frac_per_s / fps * np.asarray(options.reference_lengths_m)
    assert (steps <= (1 + 1e-6) * limit).all(), f"largest step {(steps / limit).max():.2f} x the limit"
    heights = [skeleton.height_from_bone_lengths(p) for p in published]
    np.testing.assert_allclose(heights, height, rtol=1e-9)
    locked = converged.index(True)
    assert locked <= 2.5 * fps, f"locked at {locked / fps:.2f} s"
    assert all(converged[locked:])
    assert (np.array(published[locked:]) == published[locked]).all()  # locked: not a bit changes
    np.testing.assert_allclose(lengths[locked:], np.broadcast_to(published[locked], lengths[locked:].shape), rtol=1e-9)
    assert np.abs(lengths[-1] / true - 1).max() < (0.04 if fps == 30 else 0.1)  # 11 samples at 5 fps


@pytest.mark.parametrize("back_ns", [0, FRAME_NS])
def test_a_repeated_or_earlier_timestamp_moves_no_length(walk, back_ns):
    """Settled, a frame with no time since the last (a repeated timestamp, which the window takes)
    or an earlier one published the whole way to the estimate at once and locked: 9.9 % of the
    longest bone in one frame where the rate limit allows 0.5 % (review)."""
    true, height, poses, _ = _subject(walk, seed=7, noise=0.08)
    options = BoneLengthSmootherOptions.from_height(height)
    smoother = BoneLengthSmoother(options)
    smoother.process(poses[0], 0)
    measured = np.asarray(options.reference_lengths_m) * np.where(np.arange(16) < 6, 1.15, 0.9)
    smoother.adopt(measured)  # settled on lengths far from those published
    before = smoother.bone_lengths_m.copy()
    smoother.process(poses[1], -back_ns)
    np.testing.assert_array_equal(smoother.bone_lengths_m, before)
    assert not smoother.converged
    smoother.process(poses[2], FRAME_NS)  # one frame after the latest: one frame's rate-limited step
    step = np.abs(smoother.bone_lengths_m - before) / np.asarray(options.reference_lengths_m)
    assert 0 < step.max() <= (1 + 1e-6) * options.max_rate_frac_per_s / FPS


def test_a_pose_the_network_could_not_make_is_no_pose_and_teaches_nothing(walk):
    true, height, poses, _ = _subject(walk, seed=8, noise=0.0)
    smoother = BoneLengthSmoother(BoneLengthSmootherOptions.from_height(height))
    _run(smoother, poses[:10])
    before = smoother.bone_lengths_m
    broken = poses[10].copy()
    broken[5] = np.nan
    assert np.isnan(smoother.process(broken, 10 * FRAME_NS)).all()
    np.testing.assert_array_equal(smoother.bone_lengths_m, before)
    assert np.isfinite(smoother.process(poses[11], 11 * FRAME_NS)).all()


def test_smoother_misuse_is_rejected():
    with pytest.raises(ValueError, match="16 positive lengths"):
        BoneLengthSmootherOptions((0.3,) * 15)
    with pytest.raises(ValueError, match="max_rate_frac_per_s must be > 0, got 0"):
        BoneLengthSmootherOptions.from_height(1.7, max_rate_frac_per_s=0.0)
    with pytest.raises(ValueError, match="memory_s .* must be >= convergence_s"):
        BoneLengthSmootherOptions.from_height(1.7, convergence_s=5.0, memory_s=2.0)
    with pytest.raises(ValueError, match=r"shape \(17, 3\), got \(17, 2\)"):
        BoneLengthSmoother(BoneLengthSmootherOptions.from_height(1.7)).process(np.zeros((17, 2)), 0)


# -- One Euro ------------------------------------------------------------------------------------


def test_one_euro_matches_hand_computed_values():
    # dt = 0.1 s, min_cutoff 1 Hz: alpha = 2π·0.1 / (1 + 2π·0.1) = 0.385869
    plain = OneEuroFilter(OneEuroOptions(min_cutoff_hz=1.0, beta=0.0, d_cutoff_hz=1.0))
    values = [plain.process(np.array(x), t * 100_000_000) for t, x in enumerate([0.0, 1.0, 1.0])]
    np.testing.assert_allclose(values, [0.0, 0.385869, 0.622843], atol=1e-6)
    # beta 0.1: speed 10/s filtered to 3.85869/s raises the cutoff to 1.385869 Hz, alpha 0.465460
    fast = OneEuroFilter(OneEuroOptions(min_cutoff_hz=1.0, beta=0.1, d_cutoff_hz=1.0))
    fast.process(np.array(0.0), 0)
    assert float(fast.process(np.array(1.0), 100_000_000)) == pytest.approx(0.465460, abs=1e-6)


def test_one_euro_reduces_jitter_on_a_constant_signal():
    rng = np.random.default_rng(7)
    noisy = 1.5 + 0.01 * rng.standard_normal((300, 17, 3))
    euro = OneEuroFilter(OneEuroOptions(min_cutoff_hz=1.0, beta=0.0))
    out = np.stack([euro.process(x, i * FRAME_NS) for i, x in enumerate(noisy)])
    assert out.shape == noisy.shape
    assert out[30:].std() < 0.4 * noisy[30:].std()
    assert abs(out[30:].mean() - 1.5) < 0.002


def test_one_euro_follows_a_step_with_little_lag_for_high_beta():
    signal = np.r_[np.zeros(30), np.ones(30)]

    def frames_to_reach_90_percent(beta: float) -> int:
        euro = OneEuroFilter(OneEuroOptions(min_cutoff_hz=0.5, beta=beta))
        out = np.array([float(euro.process(np.array(x), i * FRAME_NS)) for i, x in enumerate(signal)])
        return int(np.argmax(out[30:] >= 0.9))

    assert frames_to_reach_90_percent(5.0) <= 3
    assert frames_to_reach_90_percent(0.0) > 15


def test_one_euro_is_element_wise():
    rng = np.random.default_rng(8)
    seq = np.cumsum(rng.standard_normal((40, 4, 3)), axis=0)
    options = OneEuroOptions(min_cutoff_hz=1.2, beta=0.3, d_cutoff_hz=2.0)
    vector = OneEuroFilter(options)
    together = np.stack([vector.process(x, i * FRAME_NS) for i, x in enumerate(seq)])
    scalar = OneEuroFilter(options)
    alone = [float(scalar.process(x[2, 1], i * FRAME_NS)) for i, x in enumerate(seq)]
    np.testing.assert_allclose(together[:, 2, 1], alone, rtol=1e-12)


def test_one_euro_repeated_timestamp_reset_and_misuse():
    euro = OneEuroFilter(OneEuroOptions(min_cutoff_hz=1.0))
    euro.process(np.zeros(3), 0)
    first = euro.process(np.ones(3), FRAME_NS)
    np.testing.assert_array_equal(euro.process(np.full(3, 9.0), FRAME_NS), first)
    with pytest.raises(ValueError, match=r"started on shape \(3,\), got \(4,\)"):
        euro.process(np.zeros(4), 2 * FRAME_NS)
    euro.reset()
    np.testing.assert_array_equal(euro.process(np.full(4, 2.0), 3 * FRAME_NS), np.full(4, 2.0))
    with pytest.raises(ValueError, match="cutoffs > 0 Hz"):
        OneEuroOptions(min_cutoff_hz=0.0)
    assert math.isfinite(float(euro.process(np.full(4, 2.5), 4 * FRAME_NS)[0]))
