"""The plausibility gate: absurd 2D gives ``lost``, counted and logged once; real 2D passes untouched.

The probes are the issue's: every keypoint ×1e12 px, ×1e38, one joint at 1e4 px, a confidence of 2.0,
fed to the real lifting stage (shipped model) on the squats clip's reference MediaPipe 2D.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.engines.layouts import POSECAST_17
from posecast.realtime.errors import OptionsError
from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting
from posecast.realtime.lifting.plausibility import PlausibilityOptions, implausibility
from posecast.realtime.schema import decode_pose, encode_pose
from posecast.realtime.types import Detections2D, PoseFrame

SIZE = (720, 1280)
INTRINSICS = CameraIntrinsics.from_hfov(60.0, *SIZE)


@pytest.fixture(scope="module")
def squats_2d(media_dir: Path) -> np.ndarray:
    """The squats clip's reference MediaPipe 2D, ``(65, 17, 2)`` pixels (720 × 1280 image)."""
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    return skeleton.from_mediapipe(landmarks)[..., :2].astype(np.float32)


def _lift(keypoints: np.ndarray, confidence: np.ndarray | None = None) -> tuple[list, MetricPoseLifting]:
    """Every frame through the lifting stage, as the live pipeline hands it over (5 fps)."""
    lifting = MetricPoseLifting(LiftingOptions(fixed_intrinsics=tuple(INTRINSICS.as_array())))
    confidence = np.ones(keypoints.shape[:2], np.float32) if confidence is None else confidence
    out = []
    for f, kp in enumerate(keypoints):
        t = int(f * 2e8)
        detections = Detections2D(f, t, t, SIZE, POSECAST_17, kp[None], confidence[f][None], np.full(1, -1))
        out.append(lifting.process(detections, t)[0])
    lifting.close()
    return out, lifting


def test_real_2d_passes_the_gate(squats_2d: np.ndarray) -> None:
    people, lifting = _lift(squats_2d)
    assert lifting.implausible_poses == 0
    # 5 fps: the window (27 frames at the model's 30 fps, 0.87 s) is covered from the 6th frame on
    assert [p.tracking for p in people] == ["warming"] * 5 + ["tracking"] * 60


@pytest.mark.parametrize(
    ("corrupt", "gated"),
    [
        pytest.param(lambda kp: kp * 1e12, True, id="all 2D x1e12"),
        # float64 (float32 would overflow to inf); the float32 network then overflows: no root at all
        pytest.param(lambda kp: kp * 1e38, False, id="all 2D x1e38"),
        pytest.param(lambda kp: np.where(np.arange(17)[:, None] == skeleton.HEAD, 1e4, kp), True, id="head at 1e4 px"),
    ],
)  # fmt: skip
def test_absurd_2d_is_lost_counted_and_logged_once(squats_2d, corrupt, gated, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="posecast.realtime.lifting.metric"):
        people, lifting = _lift(corrupt(squats_2d.astype(np.float64)))
    assert {p.tracking for p in people} == {"lost"}
    assert all(p.joints_m is None for p in people)
    rejected = lifting.implausible_poses
    messages = [r.getMessage() for r in caplog.records]
    if not gated:
        assert rejected == 0 and not messages
        return
    assert rejected > 0  # the frames the gate did not see had no root at all (lost anyway)
    assert sum("implausible pose was given as lost" in m for m in messages) == 1, messages
    assert messages[-1].endswith(f"{rejected} implausible pose was given as lost" if rejected == 1
                                 else f"{rejected} implausible poses were given as lost")  # fmt: skip


def test_confidence_is_clipped_to_the_schema_range(squats_2d: np.ndarray) -> None:
    confidence = np.full(squats_2d.shape[:2], 2.0, np.float32)
    confidence[:, 3] = np.nan
    people, _ = _lift(squats_2d, confidence)
    reference, _ = _lift(squats_2d)
    person = people[-1]
    assert person.tracking == "tracking"
    assert person.confidence.max() == 1.0 and person.confidence[3] == 0.0
    frame = PoseFrame(64, 0, 0, SIZE, [person])
    message = decode_pose(encode_pose(frame, person, 1, 1))
    assert message.confidence.min() >= 0.0 and message.confidence.max() <= 1.0
    # the ankle whose confidence was NaN gets no weight: the rest of the pose keeps its shape
    # (root-relative, within 5 cm) and its distance (within 10 %: one foot fewer to measure the
    # person's size from; 6.5 % with the shipped model)
    joints, expected = person.joints_m, reference[-1].joints_m
    others = np.arange(len(joints)) != 3
    shape_error_m = np.abs((joints - joints[0]) - (expected - expected[0]))[others].max()
    assert shape_error_m < 0.05
    assert abs(joints[0, 2] / expected[0, 2] - 1.0) < 0.10


def _standing(root_m: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pose of typical proportions at ``root_m`` (camera frame), its exact 2D and bone lengths."""
    lengths = skeleton.bone_lengths_from_height(1.7)
    joints = np.zeros((17, 3))
    for child, parent in skeleton.BONES:
        direction = np.array([0.3 if "l_" in skeleton.JOINT_NAMES[child] else -0.3, 1.0, 0.1])
        if child in (7, 8, 9, 10, 11, 14):  # spine up, shoulders out
            direction[1] = -1.0
        joints[child] = joints[parent] + lengths[child - 1] * direction / np.linalg.norm(direction)
    joints += root_m
    return joints, joints[:, :2] / joints[:, 2:], lengths


@pytest.mark.parametrize(
    ("root", "edit", "reason"),
    [
        ((0.1, 0.0, 3.0), None, None),
        ((0.0, 0.0, -2.0), None, "root -2 m in front of the camera"),
        ((0.0, 0.0, 80.0), None, "root 80 m in front of the camera"),
        ((40.0, 0.0, 1.0), None, "degrees off the camera's axis"),
        ((0.0, 0.0, 3.0), lambda j, k: (j.__setitem__((13, 0), 5.0), k), "from the root"),
        ((0.0, 0.0, 3.0), lambda j, k: (j, k.__setitem__((10, 0), 0.9)), "from its keypoint's viewing ray"),
        ((0.0, 0.0, 3.0), lambda j, k: (j.__setitem__((4, 2), np.nan), k), "non-finite"),
    ],
)
def test_each_check_of_the_gate(root, edit, reason) -> None:
    joints, keypoints, lengths = _standing(root)
    if edit is not None:
        edit(joints, keypoints)
    root_m = joints[skeleton.ROOT].copy()
    got = implausibility(joints, root_m, keypoints, np.ones(17, bool), lengths, PlausibilityOptions())
    assert got is None if reason is None else reason in got, got


def test_gate_options_are_checked() -> None:
    with pytest.raises(OptionsError, match="depth range"):
        PlausibilityOptions(min_depth_m=2.0, max_depth_m=1.0)
    with pytest.raises(OptionsError, match="reach_factor must be at least 1, got 0.5"):
        PlausibilityOptions(reach_factor=0.5)
