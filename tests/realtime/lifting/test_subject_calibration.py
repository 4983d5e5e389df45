"""Subject calibration through the real lifting network: a mocap clip with changed proportions,
filmed by a known virtual camera, lifted frame by frame, gives back its bone lengths."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.calibration import estimate_subject
from posecast.calibration.errors import CalibrationError
from posecast.engines import normalize, skeleton
from posecast.engines.training.data.cameras import sample_cameras
from posecast.engines.training.data.windows import rescale_bones
from posecast.realtime.lifting.lifter import Lifter3D
from posecast.realtime.lifting.window import PoseWindow, PoseWindowOptions


def _lifted_walk(walk_joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A person with other proportions than the training skeleton (longer legs, shorter arms)
    walking past a random webcam, lifted as the live pipeline lifts: ``(raw lifted poses
    (F, 17, 3), their normalised 2D (F, 17, 2), true bone lengths (16,), height in metres)``."""
    factors = np.ones(len(skeleton.BONES))
    for i, name in enumerate(skeleton.BONE_NAMES):
        if "knee" in name:
            factors[i] = 1.08
        elif "elbow" in name or "wrist" in name:
            factors[i] = 0.94
    world = rescale_bones(walk_joints.astype(np.float64)[None], factors[None])  # (1, F, 17, 3)
    cameras = sample_cameras(world[:, :, skeleton.ROOT].mean(1), np.random.default_rng(5))
    keypoints_norm = normalize.project(cameras.to_camera(world))[0]
    true_lengths = np.median(skeleton.bone_lengths(world[0]), axis=0)

    lifter = Lifter3D()
    window = PoseWindow(PoseWindowOptions(window_frames=lifter.window_frames, max_gap_s=None))
    poses = np.array([
        lifter.process(window.process(kp, int(f * 1e9 / 30)).window[None]).joints_rel[0]
        for f, kp in enumerate(keypoints_norm)
    ])  # fmt: skip
    lifter.close()
    return poses, keypoints_norm, true_lengths, skeleton.height_from_bone_lengths(true_lengths)


def _errors(profile, true_lengths: np.ndarray) -> np.ndarray:
    return np.abs(profile.as_array() / true_lengths - 1.0)


def test_the_2d_corrects_the_lifters_proportions(walk_joints: np.ndarray) -> None:
    """On the viewing rays (the calibration's way when it has the 2D) every bone but the two
    widths is within 8 % (the lifter's own lengths: up to 19 %, the head, with the shin 12 %
    short); the widths are the lifter's guess either way (the strict xfail below)."""
    poses, keypoints_norm, true_lengths, height_m = _lifted_walk(walk_joints)
    lifted = _errors(estimate_subject(poses, height_m), true_lengths)
    on_rays = _errors(estimate_subject(poses, height_m, keypoints_norm=keypoints_norm), true_lengths)
    seen = np.setdiff1d(np.arange(len(true_lengths)), skeleton.WIDTH_BONES)
    report = str(dict(zip(skeleton.BONE_NAMES, np.round(on_rays, 3).tolist(), strict=True)))
    assert on_rays[seen].max() <= 0.08, report
    assert lifted[seen].max() > 0.15  # the lifter alone is far off: the rays did the work
    assert on_rays[seen].mean() < 0.6 * lifted[seen].mean(), report
    with pytest.raises(CalibrationError, match=r"keypoints_norm must have shape \(121, 17, 2\)"):
        estimate_subject(poses, height_m, keypoints_norm=keypoints_norm[:, :, :1])


@pytest.mark.xfail(
    strict=True,
    reason="the hip and shoulder widths (22 % and 26 %, at the calibration's 20 % bound) are the lifter's guess: "
    "this walk passes the camera with the hips 55-65° and the shoulders 54-64° out of the image plane in "
    "every frame (the lifter's angles are close, medians 63° / 60° against 60° / 60°, its widths are not), "
    "and the shipped default learned widths from Bandai-Namco (narrow), CMU and MediaPipe (about 1.5× wider),"
    " so it guesses wide; this person has Bandai-Namco's. Every other bone is within 8 % once the 2D is used "
    "(the test above); the calibration itself recovers lengths within 3 % from 3D "
    "(tests/calibration/test_subject.py). Strict: a better model makes this pass and the marker must then go.",
)
def test_subject_bone_lengths_from_lifted_video(walk_joints: np.ndarray) -> None:
    poses, keypoints_norm, true_lengths, height_m = _lifted_walk(walk_joints)
    error = _errors(estimate_subject(poses, height_m, keypoints_norm=keypoints_norm), true_lengths)
    assert error.max() <= 0.05, str(dict(zip(skeleton.BONE_NAMES, np.round(error, 3).tolist(), strict=True)))
