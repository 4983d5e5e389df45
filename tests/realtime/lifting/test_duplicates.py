"""One person that the detector returns twice is one person: MediaPipe asked for several poses
sometimes gives the same person two nearly identical poses; both were published, as two people,
and their ids traded places (QA, with real MediaPipe on composed clips). Two people crossing
overlap as much but stay two."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.engines.layouts import POSECAST_17
from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting, TrackerOptions
from posecast.realtime.lifting.tracks import box_iou, duplicate_detections, keypoint_boxes
from posecast.realtime.types import Detections2D

SIZE = (720, 1280)


@pytest.fixture(scope="module")
def squats_2d(media_dir: Path) -> np.ndarray:
    """The squats clip's MediaPipe 2D, 17 joints, pixels ``(F, 17, 2)``."""
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    return skeleton.from_mediapipe(landmarks)[..., :2].astype(np.float32)


def _flag(keypoints: np.ndarray, scores: np.ndarray) -> np.ndarray:
    return duplicate_detections(keypoint_boxes(keypoints, scores, 0.3), keypoints, scores)


def test_a_pose_found_twice_is_one_and_the_better_stays(squats_2d: np.ndarray) -> None:
    pose = squats_2d[10]
    twice = np.stack([pose + 3.0, pose])  # the same person, 3 px apart
    scores = np.array([np.full(17, 0.7), np.full(17, 0.9)], np.float32)
    np.testing.assert_array_equal(_flag(twice, scores), [True, False])  # the better (second) stays
    np.testing.assert_array_equal(_flag(twice, scores[::-1]), [False, True])


def test_people_crossing_stay_two(squats_2d: np.ndarray) -> None:
    """Boxes that overlap by more than half, but one person faces the other way (the joints
    mirrored in the box) or stands a little further across: two people."""
    pose = squats_2d[10]
    centre = pose[:, 0].mean()
    mirrored = pose.copy()
    mirrored[:, 0] = 2 * centre - pose[:, 0]
    beside = pose + np.array([0.25 * np.ptp(pose[:, 0]), 0.0], np.float32)
    scores = np.ones((2, 17), np.float32)
    for other in (mirrored, beside):
        keypoints = np.stack([pose, other])
        boxes = keypoint_boxes(keypoints, scores, 0.3)
        assert box_iou(boxes[:1], boxes[1:])[0, 0] >= 0.5  # they do overlap that much
        assert not _flag(keypoints, scores).any()


def test_the_lifting_stage_publishes_one_person_for_a_pose_found_twice(squats_2d: np.ndarray) -> None:
    """Every third frame the detector adds a copy of the person, 2 px off, with lower scores,
    listed first: one id for the whole clip, one pose message per frame."""
    intrinsics = tuple(CameraIntrinsics.from_hfov(60.0, *SIZE).as_array())
    lifting = MetricPoseLifting(LiftingOptions(fixed_intrinsics=intrinsics, tracker=TrackerOptions(max_people=3)))
    ids = set()
    for f, pose in enumerate(squats_2d):
        keypoints, scores = pose[None], np.full((1, 17), 0.9, np.float32)
        if f % 3 == 1:
            keypoints = np.concatenate([pose[None] + 2.0, keypoints])
            scores = np.concatenate([np.full((1, 17), 0.6, np.float32), scores])
        t = int(f * 2e8)  # 5 fps
        detections = Detections2D(f, t, t, SIZE, POSECAST_17, keypoints, scores, np.full(len(keypoints), -1))
        people = lifting.process(detections, t)
        assert len(people) == 1, f"frame {f}: {[p.person_id for p in people]}"
        ids.add(people[0].person_id)
    lifting.close()
    assert ids == {0}
