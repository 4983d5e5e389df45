"""What a lift input's keypoints mean, checked where every reader loads them
(:func:`~posecast.engines.lift_input.load_lift_input`: ``posecast lift``, ``posecast adapt`` and
training on recorded 2D): another joint order is refused, y growing upwards is warned about."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import rotations, skeleton
from posecast.engines.errors import LiftInputError
from posecast.engines.lift_input import load_lift_input
from posecast.engines.training.data.windows import load_recorded_2d

#: COCO-17's joints (YOLO, RTMPose) by posecast's names: the face's five points at the head.
COCO_17 = ("head", "head", "head", "head", "head", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist",
           "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")  # fmt: skip


def _standing_px(frames: int = 30) -> np.ndarray:
    """A person standing 3 m from a 500 px camera, posecast's joint order, jittered by 3 px."""
    standing = rotations.rest_pose(skeleton.bone_lengths_from_height(1.7))  # metres, y up
    jitter = 3 * np.random.default_rng(0).standard_normal((frames, skeleton.NUM_JOINTS, 2))
    return np.array([320.0, 240.0]) + 500 * standing[:, :2] * [1.0, -1.0] / 3.0 + jitter


def _save(path: Path, keypoints: np.ndarray) -> Path:
    np.savez(path, keypoints_2d=keypoints, intrinsics=np.array([500.0, 500.0, 320.0, 240.0]), fps=30.0)
    return path


def test_posecast_order_loads_without_a_word(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        data = load_lift_input(_save(tmp_path / "in.npz", _standing_px()))
    assert data.keypoints.shape == (30, 17, 2) and caplog.text == ""


def test_coco_order_is_refused_by_every_reader(tmp_path: Path) -> None:
    """The same person as COCO-17 gives it (the same array shape): refused by ``lift``'s loader and
    by training's (adapt reads through the same one), naming the spine and the fix."""
    keypoints = _standing_px()
    coco = keypoints[:, [skeleton.JOINT_INDEX[name] for name in COCO_17]]
    path = _save(tmp_path / "coco.npz", coco)
    for read in (load_lift_input, load_recorded_2d):
        with pytest.raises(LiftInputError, match=r"coco\.npz: keypoints_2d are not in posecast's joint order: its "
                                                 r"spine \(joint 7\) lies between the pelvis \(0\) and the thorax"):
            read(path)


def test_y_growing_upwards_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Flipped upside down (y up): loaded (a handstand is upside down too), with a warning."""
    keypoints = _standing_px()
    keypoints[..., 1] = 480.0 - keypoints[..., 1]
    with caplog.at_level(logging.WARNING):
        load_lift_input(_save(tmp_path / "y_up.npz", keypoints))
    assert "the head is below the ankles in 100 % of the frames: keypoints_2d must be image pixels, y growing " \
           "downwards" in caplog.text  # fmt: skip
