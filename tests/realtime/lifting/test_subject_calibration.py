"""Subject calibration through the real lifting network: a mocap clip with changed proportions,
filmed by a known virtual camera, lifted frame by frame, gives back its bone lengths."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.calibration import estimate_subject
from posecast.engines import normalize, skeleton
from posecast.engines.training.data.cameras import sample_cameras
from posecast.engines.training.data.windows import rescale_bones
from posecast.realtime.lifting.lifter import Lifter3D
from posecast.realtime.lifting.window import PoseWindow, PoseWindowOptions


@pytest.mark.xfail(
    strict=True,
    reason="the shipped default (supervised-upright-w384, flip-averaged) misjudges this person's proportions by "
    "up to 26 % (hip and shoulder width, 26 % and 25 %: it also learned from CMU, whose marker-based joint centres "
    "put them 51 % and 78 % wider than this clip's typical skeleton); the previous default supervised-w256 by "
    "25.6 %, the unsupervised one by 16 %; the calibration itself recovers lengths within 3 % from 3D "
    "(tests/calibration/test_subject.py). Strict: a better model makes this pass and the marker must then go.",
)
def test_subject_bone_lengths_from_lifted_video(walk_joints: np.ndarray) -> None:
    # a person with other proportions than the training skeleton: longer legs, shorter arms
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
    height_m = skeleton.height_from_bone_lengths(true_lengths)

    lifter = Lifter3D()
    window = PoseWindow(PoseWindowOptions(window_frames=lifter.window_frames, max_gap_s=None))
    poses = np.array([
        lifter.process(window.process(kp, int(f * 1e9 / 30)).window[None]).joints_rel[0]
        for f, kp in enumerate(keypoints_norm)
    ])  # fmt: skip
    lifter.close()
    profile = estimate_subject(poses, height_m)
    error = np.abs(profile.as_array() / true_lengths - 1.0)
    assert error.max() <= 0.05, str(dict(zip(skeleton.BONE_NAMES, np.round(error, 3).tolist(), strict=True)))
