"""The plausibility gate: absurd 2D gives ``lost``, counted and logged once; real 2D passes untouched.

The probes are the issue's: every keypoint ×1e12 px, ×1e38, one joint at 1e4 px, a confidence of 2.0,
fed to the real lifting stage (shipped model) on the squats clip's reference MediaPipe 2D; and
QA's: a 2D skeleton drawn at a third of its size for a second (the depth check), against the same
person walking towards the camera at 2 m/s, and the dance clip with the body below the shoulders
blanked through the whole pipeline.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.engines.layouts import POSECAST_17
from posecast.realtime.cli import main
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
    assert f"{rejected} implausible poses were given as lost" in messages[-1]


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
    with pytest.raises(OptionsError, match="max_depth_speed_m_s must be positive, got 0"):
        PlausibilityOptions(max_depth_speed_m_s=0.0)
    with pytest.raises(OptionsError, match="depth_error_frac must be 0 or more, got -0.1"):
        PlausibilityOptions(depth_error_frac=-0.1)


@pytest.mark.parametrize(
    ("last_z", "since_s", "z", "passes"),
    [
        (3.3, 1 / 30, 3.0, True),  # a frame's jitter: within 15 % of the depth
        (3.0, 1 / 30, 3.6, False),  # 0.6 m in a frame: more than 0.07 m + 0.45 m
        (3.0, 1 / 30, 9.0, False),  # the shrunk 2D: three times as far
        (3.0, 0.2, 1.5, False),  # towards the camera too
        (3.0, 1.0, 4.5, True),  # 1.5 m a second later: a walk
        (3.0, 3.0, 9.0, True),  # 6 m three seconds later
    ],
)
def test_the_depth_moves_no_faster_than_a_person(last_z, since_s, z, passes) -> None:
    joints, keypoints, lengths = _standing((0.1, 0.0, z))
    root_m = joints[skeleton.ROOT].copy()
    last_root_m = np.array([0.1, 0.0, last_z])
    options = PlausibilityOptions()
    assert implausibility(joints, root_m, keypoints, np.ones(17, bool), lengths, options) is None  # alone: fine
    got = implausibility(joints, root_m, keypoints, np.ones(17, bool), lengths, options, last_root_m, since_s)
    assert got is None if passes else got is not None and "a person moves at most" in got, got


def _shrunk_about_the_head(pose_px: np.ndarray, factor: float) -> np.ndarray:
    """``pose_px`` ``(17, 2)`` with the legs folded up over the hips and every joint drawn at
    ``factor`` of its distance from the head, as MediaPipe drew the dancer whose body below the
    shoulders was blanked (QA: hips, shoulders and ankles within 30 px of the head, scored 0.5-0.98)."""
    folded = pose_px.astype(np.float64)
    hips_y = folded[[skeleton.JOINT_INDEX["l_hip"], skeleton.JOINT_INDEX["r_hip"]], 1].mean()
    legs = [skeleton.JOINT_INDEX[n] for n in ("l_knee", "l_ankle", "r_knee", "r_ankle")]
    folded[legs, 1] = 2 * hips_y - folded[legs, 1]
    head = folded[skeleton.HEAD]
    return head + factor * (folded - head)


def test_a_shrunk_2d_skeleton_does_not_send_the_person_away(squats_2d: np.ndarray, caplog) -> None:
    """Five frames (1 s at 5 fps) whose 2D the detector drew folded and at a third of its size,
    everything else the person's: each such frame alone is the same person three times as far
    (4-5 m), which the absolute checks pass. They are lost, said once, and every published frame
    stays at the depth the person had without them."""
    reference, _ = _lift(squats_2d)
    shrunk = squats_2d.astype(np.float64)
    bad = range(30, 35)
    for f in bad:
        shrunk[f] = _shrunk_about_the_head(squats_2d[f], 1 / 3)
    with caplog.at_level(logging.WARNING, logger="posecast.realtime.lifting.metric"):
        people, lifting = _lift(shrunk)
    assert [f for f, p in enumerate(people) if p.tracking == "lost"] == list(bad)
    assert lifting.implausible_poses == len(bad)
    assert "a person moves at most" in caplog.records[0].getMessage()
    depth = np.array([np.nan if p.joints_m is None else p.root_m[2] for p in people])
    expected = np.array([p.root_m[2] for p in reference])
    published = np.isfinite(depth)
    # after the lost second the window starts again (warming): within 10 % of the depth it had
    assert np.abs(depth[published] / expected[published] - 1).max() < 0.10


@pytest.mark.parametrize("speed_m_s", [2.0, -2.0])
def test_a_person_walking_at_2_m_s_is_followed(squats_2d: np.ndarray, speed_m_s: float) -> None:
    """The squats 2D as if the person walked 4 m along their pelvis's viewing ray at 2 m/s in 2 s
    (towards the camera: from 4 m further; away: to 4 m further), at 5 fps (0.4 m a frame): every
    frame is published and the depth follows the walk."""
    reference, _ = _lift(squats_2d)
    depth_m = np.array([p.root_m[2] for p in reference])
    time_s = np.arange(len(squats_2d)) * 0.2
    walked_m = np.clip((time_s - 4.0) * abs(speed_m_s), 0.0, 4.0)  # from 4 s to 6 s
    further_m = 4.0 - walked_m if speed_m_s > 0 else walked_m
    pelvis = squats_2d[:, skeleton.ROOT : skeleton.ROOT + 1].astype(np.float64)
    scale = (depth_m / (depth_m + further_m))[:, None, None]  # the 2D's size goes as 1 / depth
    walking = pelvis + scale * (squats_2d - pelvis)
    people, lifting = _lift(walking)
    assert lifting.implausible_poses == 0
    assert all(p.tracking != "lost" for p in people)
    depth = np.array([p.root_m[2] for p in people])
    assert np.abs(depth / (depth_m + further_m) - 1).max() < 0.10


@pytest.mark.slow
def test_the_dancer_with_her_body_blanked_stays_where_she_is(media_dir: Path, pose_model_path: Path,
                                                             tmp_path: Path, caplog) -> None:  # fmt: skip
    """The dance clip with every row from 259 down black (head and shoulders in view, QA's clip):
    MediaPipe folds her legs up and then draws her whole skeleton within 30 px of her head for
    about a second, which placed her 10-12 m away (3.2-3.6 m in the clip). Those frames are lost;
    what is published stays within reach of her."""
    capture, clip = cv2.VideoCapture(str(media_dir / "dance_576.mp4")), tmp_path / "dance_headblank.mp4"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (576, 576))
    while (image := capture.read()[1]) is not None:
        image[259:] = 0
        writer.write(image)
    capture.release()
    writer.release()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), caplog.at_level(logging.WARNING, logger="posecast.realtime.lifting.metric"):
        code = main(["run", "--source", str(clip), "--headless", "--publish", "none", "--print", "json",
                     "--model-asset", str(pose_model_path)])  # fmt: skip
    assert code == 0
    poses = {line["frame_id"]: line for line in map(json.loads, out.getvalue().splitlines()) if line["topic"] == "pose"}
    depth = {f: pose["joints_m"][0][2] for f, pose in poses.items() if pose["tracking"] != "lost"}
    assert len(depth) >= 60 and max(depth.values()) < 6.0, max(depth.values())  # (12.2 m before)
    steps = [abs(depth[f + 1] - depth[f]) for f in depth if f + 1 in depth]
    assert max(steps) < 1.0  # in a frame (4.7 m before)
    assert any("a person moves at most" in r.getMessage() for r in caplog.records)
