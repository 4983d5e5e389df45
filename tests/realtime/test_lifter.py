"""The lifting stage with the shipped model: a subject anywhere in the view, in the camera's axes."""

from __future__ import annotations

import numpy as np
from posecast.engines import normalize, skeleton
from posecast.engines.training import metrics
from posecast.engines.training.data.cameras import sample_cameras
from posecast.realtime.lifter import Lifter3D
from posecast.realtime.window import PoseWindow, PoseWindowOptions


def _yaw(degrees: float) -> np.ndarray:
    """Camera-frame points as seen by the camera turned about its vertical axis by ``degrees``
    (positive: the subject moves towards the left of the image)."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    return np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])


def _lift(lifter: Lifter3D, keypoints_norm: np.ndarray) -> np.ndarray:
    window = PoseWindow(PoseWindowOptions(window_frames=lifter.window_frames, max_gap_s=None))
    return np.array([
        lifter.process(window.process(kp, int(f * 1e9 / 30)).window).joints_rel
        for f, kp in enumerate(keypoints_norm)
    ])  # fmt: skip


def test_subject_at_the_edge_of_the_view_is_lifted_like_one_in_the_middle(walk_joints: np.ndarray) -> None:
    """A walking person filmed by three webcams, each first turned so the person walks through
    the middle of the view, then 35° further (the edge of a wide webcam's image): the error stays
    the same. The released code's centring (a shift of the 2D, the 3D left in the shifted view)
    does worse there: fed 2D already shifted to the pelvis, the model does exactly that."""
    world = walk_joints.astype(np.float64)[None]
    lifter = Lifter3D()
    errors: dict[str, float] = {"middle": 0.0, "edge": 0.0, "edge, shifted": 0.0}
    for seed in (11, 12, 13):
        camera = sample_cameras(world[:, :, skeleton.ROOT].mean(1), np.random.default_rng(seed))
        joints_cam = camera.to_camera(world)[0]
        centre_yaw = np.degrees(np.arctan(normalize.project(joints_cam)[:, skeleton.ROOT, 0])).mean()
        for name, off_axis_deg in [("middle", 0.0), ("edge", 35.0)]:
            view = np.einsum("ij,fnj->fni", _yaw(centre_yaw + off_axis_deg), joints_cam)
            keypoints_norm = normalize.project(view)
            seen_at = np.degrees(np.arctan(-keypoints_norm[:, skeleton.ROOT, 0])).mean()
            assert abs(seen_at - off_axis_deg) < 2.0, seen_at
            lifted, gt = _lift(lifter, keypoints_norm), skeleton.root_relative(view)
            errors[name] += metrics.n_mpjpe(lifted, gt).mean() / 3
            if name == "edge":
                shifted = _lift(lifter, keypoints_norm - keypoints_norm[:, skeleton.ROOT : skeleton.ROOT + 1])
                errors["edge, shifted"] += metrics.n_mpjpe(shifted, gt).mean() / 3
    lifter.close()
    assert errors["edge"] < 1.1 * errors["middle"], errors
    assert errors["edge"] < 0.8 * errors["edge, shifted"], errors
