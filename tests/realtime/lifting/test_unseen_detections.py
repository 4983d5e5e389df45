"""A detection with no joint scored high enough to place it is a frame without that person (numerics
QA: every fourth frame with all scores at 0.2 reset the window and the bones each time, and the
person stayed ``warming`` for good, where the same frames without the person were bridged)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.engines.layouts import POSECAST_17
from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting, TrackerOptions
from posecast.realtime.types import Detections2D

SIZE = (720, 1280)


@pytest.fixture(scope="module")
def squats_2d(media_dir: Path) -> np.ndarray:
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    return skeleton.from_mediapipe(landmarks)[..., :2].astype(np.float32)


def _run(squats_2d: np.ndarray, max_people: int, dim: str) -> list[list[tuple[int, str, np.ndarray | None]]]:
    """Each frame's people (id, state, joints) with every fourth frame's person ``dim``: ``absent``
    (no detection), ``unseen`` (detected, every score 0.2) or ``unseen-beside`` (an unseen detection
    far off in every frame, beside the person)."""
    intrinsics = tuple(CameraIntrinsics.from_hfov(60.0, *SIZE).as_array())
    options = LiftingOptions(fixed_intrinsics=intrinsics, tracker=TrackerOptions(max_people=max_people))
    frames = []
    with MetricPoseLifting(options) as lifting:
        for f, pose in enumerate(squats_2d):
            keypoints, scores = pose[None], np.full((1, 17), 0.9, np.float32)
            if f % 4 == 3 and dim == "absent":
                keypoints, scores = keypoints[:0], scores[:0]
            elif f % 4 == 3 and dim == "unseen":
                scores = np.full((1, 17), 0.2, np.float32)
            elif dim == "unseen-beside":
                keypoints = np.concatenate([keypoints, pose[None] * 0.3 + 400.0])
                scores = np.concatenate([scores, np.full((1, 17), 0.2, np.float32)])
            t = int(f * 2e8)  # 5 fps: one frame missing is a 0.4 s gap, bridged
            detections = Detections2D(f, t, t, SIZE, POSECAST_17, keypoints, scores, np.full(len(keypoints), -1))
            frames.append([(p.person_id, p.tracking, p.joints_m) for p in lifting.process(detections, t)])
    return frames


@pytest.mark.parametrize("max_people", [1, 2])
def test_a_detection_with_no_joint_seen_is_a_frame_without_the_person(squats_2d: np.ndarray, max_people: int) -> None:
    absent, unseen = _run(squats_2d, max_people, "absent"), _run(squats_2d, max_people, "unseen")
    assert [[(i, s) for i, s, _ in people] for people in unseen] == [[(i, s) for i, s, _ in p] for p in absent]
    assert sum(s == "tracking" for people in unseen for _, s, _ in people) > 30
    for a, b in zip(absent, unseen, strict=True):
        for (_, _, joints_a), (_, _, joints_b) in zip(a, b, strict=True):
            assert (joints_a is None) == (joints_b is None)
            if joints_a is not None:
                np.testing.assert_allclose(joints_a, joints_b, atol=1e-9)


def test_an_unseen_detection_beside_the_person_changes_nothing(squats_2d: np.ndarray) -> None:
    alone, beside = _run(squats_2d, 2, "none"), _run(squats_2d, 2, "unseen-beside")
    assert [[(i, s) for i, s, _ in people] for people in beside] == [[(i, s) for i, s, _ in p] for p in alone]
