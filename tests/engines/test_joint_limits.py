"""Knees bend one way (engines/joint_limits.py): a lifted knee bent backwards is mirrored in depth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from posecast.engines import joint_limits, metrics, skeleton
from scipy.spatial.transform import Rotation

J = skeleton.JOINT_INDEX


def _standing() -> np.ndarray:
    """Standing straight, facing the camera (x right, y down, z forward; forward is −z), metres."""
    xy = {"pelvis": (0, 0), "r_hip": (-0.1, 0), "r_knee": (-0.1, 0.45), "r_ankle": (-0.1, 0.9), "l_hip": (0.1, 0),
          "l_knee": (0.1, 0.45), "l_ankle": (0.1, 0.9), "spine": (0, -0.25), "thorax": (0, -0.5), "neck": (0, -0.6),
          "head": (0, -0.7), "l_shoulder": (0.18, -0.5), "l_elbow": (0.2, -0.2), "l_wrist": (0.2, 0.05),
          "r_shoulder": (-0.18, -0.5), "r_elbow": (-0.2, -0.2), "r_wrist": (-0.2, 0.05)}  # fmt: skip
    return np.array([[*xy[name], 0.0] for name in skeleton.JOINT_NAMES])


def _bend(pose: np.ndarray, knee: str, degrees: float, depth_sign: float) -> np.ndarray:
    """``knee`` moved off its (vertical) hip–ankle line in depth (+1: away from the camera) so
    the leg bends by ``degrees``."""
    out = pose.copy()
    out[J[knee], 2] = depth_sign * 0.45 * math.tan(math.radians(degrees) / 2)
    return out


def _bone_lengths(pose: np.ndarray) -> np.ndarray:
    return np.array([np.linalg.norm(pose[c] - pose[p]) for c, p in skeleton.BONES])


def test_a_knee_bent_backwards_is_mirrored_to_bend_forwards() -> None:
    # left knee 20° backwards (away from the camera, the body faces it), right knee 30° forwards
    pose = _bend(_bend(_standing(), "l_knee", 20, +1), "r_knee", 30, -1)
    assert joint_limits.knee_backward_deg(pose) == pytest.approx([20.0, 0.0], abs=1e-6)
    fixed, flipped = joint_limits.mirror_backward_knees(pose)
    assert flipped.tolist() == [True, False]
    assert joint_limits.knee_backward_deg(fixed) == pytest.approx([0.0, 0.0])
    assert metrics.knee_bend_deg(fixed) == pytest.approx([20.0, 30.0], abs=1e-6)  # the same bend, forwards
    assert fixed[J["l_knee"], 2] == pytest.approx(-pose[J["l_knee"], 2])
    np.testing.assert_allclose(fixed[:, :2], pose[:, :2], atol=1e-12)  # a leg across the view: the same 2D
    np.testing.assert_allclose(_bone_lengths(fixed), _bone_lengths(pose), atol=1e-12)
    changed = np.flatnonzero(np.abs(fixed - pose).max(axis=1) > 0)
    assert changed.tolist() == [J["l_knee"]]
    assert pose[J["l_knee"], 2] > 0  # the input is not changed


def test_small_hyperextension_is_left_alone() -> None:
    pose = _bend(_standing(), "r_knee", 4, +1)
    fixed, flipped = joint_limits.mirror_backward_knees(pose, max_backward_deg=5.0)
    assert not flipped.any() and np.array_equal(fixed, pose)
    _, flipped = joint_limits.mirror_backward_knees(pose, max_backward_deg=3.0)
    assert flipped.tolist() == [False, True]


def test_any_camera_placement_turned_legs_and_batches() -> None:
    """Turned 40° and leaning, moved away from the origin, in a batch: bone lengths kept, the
    knee moved only along the viewing direction's part across the leg."""
    base = _bend(_bend(_standing(), "l_knee", 25, +1), "r_knee", 15, +1)
    turned = Rotation.from_euler("yx", [40, 10], degrees=True).apply(base) + [0.3, -0.1, 2.5]
    batch = np.stack([turned, base])
    fixed, flipped = joint_limits.mirror_backward_knees(batch)
    assert flipped.all()
    assert joint_limits.knee_backward_deg(fixed) == pytest.approx(np.zeros((2, 2)))
    assert metrics.knee_bend_deg(fixed) == pytest.approx(metrics.knee_bend_deg(batch), abs=1e-6)
    for before, after in zip(batch, fixed, strict=True):
        np.testing.assert_allclose(_bone_lengths(after), _bone_lengths(before), atol=1e-12)
    # the turned pose's knees moved mostly in depth: the image-plane shift is small against the depth shift
    shift = fixed[0, [J["l_knee"], J["r_knee"]]] - turned[[J["l_knee"], J["r_knee"]]]
    assert (np.abs(shift[:, 2]) > 3 * np.linalg.norm(shift[:, :2], axis=1)).all()


def test_a_backward_knee_seen_in_profile_stays_as_the_2d_shows_it() -> None:
    """In profile a knee's backward bend lies across the view: mirroring its depth cannot make it
    bend forwards, so it is left."""
    pose = _standing()
    pose[J["l_knee"], 2] = 0.1  # bent away from the camera...
    profile = Rotation.from_euler("y", 90, degrees=True).apply(pose)  # ...then turned: now across the view
    assert joint_limits.knee_backward_deg(profile)[0] > 20
    fixed, flipped = joint_limits.mirror_backward_knees(profile)
    assert not flipped.any() and np.array_equal(fixed, profile)
