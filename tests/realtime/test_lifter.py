"""The lifting stage with the shipped model: its 3D comes out in the real camera's axes."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import metrics, normalize, skeleton
from posecast.engines.data.cameras import sample_cameras
from posecast.realtime.lifter import Lifter3D
from posecast.realtime.window import PoseWindow, PoseWindowOptions


def _yaw(degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


@pytest.mark.parametrize("off_axis_deg", [-28.0, 28.0])
def test_off_centre_subject_comes_out_in_camera_axes(walk_joints: np.ndarray, off_axis_deg: float) -> None:
    """A walking person filmed 28° off the optical axis (the edge of a wide webcam's view): the
    lifted pose fits the ground truth in camera axes better than the same pose left in the root
    view the lifter works in (which would be turned by the 28°)."""
    world = walk_joints.astype(np.float64)[None]
    camera = sample_cameras(world[:, :, skeleton.ROOT].mean(1), np.random.default_rng(11))
    joints_cam = np.einsum("ij,fnj->fni", _yaw(off_axis_deg), camera.to_camera(world)[0])
    keypoints_norm = normalize.project(joints_cam)
    assert np.degrees(np.arctan(np.abs(keypoints_norm[:, skeleton.ROOT, 0]))).mean() > 20

    lifter = Lifter3D()
    window = PoseWindow(PoseWindowOptions(window_frames=lifter.window_frames, max_gap_s=None))
    lifted = np.array([
        lifter.process(window.process(kp, int(f * 1e9 / 30)).window).joints_rel
        for f, kp in enumerate(keypoints_norm)
    ])  # fmt: skip
    lifter.close()
    gt = skeleton.root_relative(joints_cam)
    in_camera_axes = metrics.n_mpjpe(lifted, gt).mean()
    left_in_root_view = metrics.n_mpjpe(normalize.to_root_view(lifted, keypoints_norm[:, skeleton.ROOT]), gt).mean()
    assert in_camera_axes < 0.8 * left_in_root_view, (in_camera_axes, left_in_root_view)
