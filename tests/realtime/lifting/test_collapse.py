"""A 2D skeleton the detector collapsed onto the shoulders is held as a dropout, not lifted metres away.

QA: MediaPipe, shown the dance with every row from 45 % of its height down black, drew her hips on her
shoulders and her head on the shoulder line for about 0.6 s, then her whole skeleton at a third to two
thirds of its size for up to a second: lifted, her root went from 3.5 m to 12.2 m (16.6 m decoded from
PNGs), the avatar's and the BVH's root with it, with nothing said.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.engines.layouts import POSECAST_17
from posecast.realtime.assemble import PipelineOptions, build_pipeline
from posecast.realtime.errors import OptionsError
from posecast.realtime.lifting import LiftingOptions, MetricPoseLifting, TrackerOptions
from posecast.realtime.lifting.collapse import CollapseHold, collapsed
from posecast.realtime.sources import open_source
from posecast.realtime.types import Detections2D

SIZE = (720, 1280)
INTRINSICS = tuple(CameraIntrinsics.from_hfov(60.0, *SIZE).as_array())
#: MediaPipe's 2D of the dance blanked from row 259 (of 576) down, decoded from PNGs, 1.87 s in
#: (posecast's joints, pixels; its scores): the whole skeleton within 20 px of the head, which
#: placed her 11.5 m away (3.3 m in the clip)
COLLAPSED_PX = np.array([
    [278.8, 215.2], [274.8, 221.3], [277.1, 228.9], [277.1, 231.2], [282.9, 209.2], [287.8, 212.2],
    [285.9, 217.6], [279.4, 214.6], [280.0, 214.0], [279.8, 213.6], [279.7, 213.1], [285.8, 204.2],
    [287.5, 200.2], [284.0, 205.7], [274.2, 223.8], [273.3, 228.4], [276.6, 231.5]])  # fmt: skip
COLLAPSED_SCORES = np.array([0.84, 0.84, 0.32, 0.38, 0.83, 0.28, 0.36, 0.91, 0.98, 0.99, 0.99, 0.98, 0.71, 0.64,
                             0.98, 0.64, 0.59])  # fmt: skip
_J = skeleton.JOINT_INDEX


@pytest.fixture(scope="module")
def squats_2d(media_dir: Path) -> np.ndarray:
    """The squats clip's reference MediaPipe 2D, ``(65, 17, 2)`` pixels (720 × 1280 image, 5 fps)."""
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    return skeleton.from_mediapipe(landmarks)[..., :2].astype(np.float32)


def test_a_skeleton_collapsed_onto_its_shoulders_is_told_from_a_person(squats_2d: np.ndarray) -> None:
    seen = COLLAPSED_SCORES >= 0.3
    assert collapsed(COLLAPSED_PX, seen)
    assert collapsed(COLLAPSED_PX / 1000.0 + 5.0, seen)  # its shape, not its size or place
    for joint in ("l_hip", "r_shoulder", "head"):  # what it is told by must be seen
        unseen = seen.copy()
        unseen[_J[joint]] = False
        assert not collapsed(COLLAPSED_PX, unseen)
    # a person, whatever they do: every frame of the squats (crouched, bent forward) passes, and so
    # does the collapsed one with the hips or the head where a person's are
    assert not any(collapsed(pose, np.ones(17, bool)) for pose in squats_2d)
    width = np.linalg.norm(COLLAPSED_PX[_J["l_shoulder"]] - COLLAPSED_PX[_J["r_shoulder"]])
    for joints, down in ((["pelvis", "l_hip", "r_hip"], 1.2), (["head"], -0.5)):  # (in shoulder widths)
        moved = COLLAPSED_PX.copy()
        moved[[_J[j] for j in joints], 1] += down * width
        assert not collapsed(moved, seen)


def test_the_hold_lasts_from_a_collapsed_frame_until_its_time_has_passed() -> None:
    hold, seen, normal = CollapseHold(1.0), COLLAPSED_SCORES >= 0.3, COLLAPSED_PX.copy()
    normal[[_J["pelvis"], _J["l_hip"], _J["r_hip"]], 1] += 60.0  # the hips below the shoulders
    assert not hold.held(normal, seen, 0)
    assert hold.held(COLLAPSED_PX, seen, int(1e9))
    assert [hold.held(normal, seen, int(t * 1e9)) for t in (1.5, 1.99, 2.0, 2.5)] == [True, True, False, False]
    assert hold.held(COLLAPSED_PX, seen, int(3e9)) and not hold.held(normal, seen, int(2.9e9))  # time went back
    assert not hold.held(normal, seen, int(3e9))


def _lift(
    poses: np.ndarray, scores: np.ndarray, present: np.ndarray, **options: object
) -> tuple[list, MetricPoseLifting]:
    """Each frame (5 fps) through the lifting stage: ``(id, state, joints_m)`` of each person, the
    frames where ``present`` is False without a detection."""
    out = []
    with MetricPoseLifting(LiftingOptions(fixed_intrinsics=INTRINSICS, **options)) as lifting:
        for f, (pose, score) in enumerate(zip(poses, scores, strict=True)):
            t = int(f * 2e8)
            n = int(present[f])
            detections = Detections2D(f, t, t, SIZE, POSECAST_17, pose[None][:n], score[None][:n], np.full(n, -1))
            out.append([(p.person_id, p.tracking, p.joints_m) for p in lifting.process(detections, t)])
    return out, lifting


def _collapsed_onto_shoulders(pose: np.ndarray) -> np.ndarray:
    """``pose`` as MediaPipe drew the blanked dancer: the shoulders drawn at half their width, every
    other joint pulled to a tenth of its distance from the mid-shoulders."""
    thorax = (pose[_J["l_shoulder"]] + pose[_J["r_shoulder"]]) / 2
    pulled = thorax + 0.1 * (pose - thorax)
    shoulders = [_J["l_shoulder"], _J["r_shoulder"]]
    pulled[shoulders] = thorax + 0.5 * (pose[shoulders] - thorax)
    return pulled


def test_a_collapsed_skeleton_is_held_as_a_dropout(squats_2d: np.ndarray, caplog: pytest.LogCaptureFixture) -> None:
    """Frames 30-32 (0.4 s) collapsed: they and the 1 s after the last of them are ``lost``, and the
    person is lifted as if no detection had come in that time and the tracker had remembered her (the
    window restarted after the 1.6 s, the bone lengths and the id kept: she was in view all along);
    lifted, the collapsed 2D put the squatting woman 3x as far away."""
    poses, scores = squats_2d.copy(), np.full(squats_2d.shape[:2], 0.9, np.float32)
    poses[30:33] = [_collapsed_onto_shoulders(p) for p in poses[30:33]]
    everywhere = np.ones(len(poses), bool)
    with caplog.at_level(logging.WARNING, logger="posecast.realtime.lifting.metric"):
        held, lifting = _lift(poses, scores, everywhere)
    absent = everywhere.copy()
    absent[30:37] = False  # frames 33-36: 0.2-0.8 s after the last collapsed one
    dropout, _ = _lift(poses, scores, absent, tracker=TrackerOptions(max_lost_s=5.0))
    assert [[(i, s) for i, s, _ in people] for people in held] == [[(i, s) for i, s, _ in p] for p in dropout]
    assert {s for people in held[30:37] for _, s, _ in people} == {"lost"}
    for a, b in zip(held, dropout, strict=True):
        for (_, _, joints_a), (_, _, joints_b) in zip(a, b, strict=True):
            assert (joints_a is None) == (joints_b is None)
            if joints_a is not None:
                np.testing.assert_allclose(joints_a, joints_b, atol=1e-9)
    assert lifting.collapsed_frames == 7
    said = [r.getMessage() for r in caplog.records]
    assert sum("collapsed onto the shoulders" in m for m in said) == 1, said
    assert any(m.startswith("7 frames with a collapsed 2D skeleton") for m in said), said
    # what it keeps from being published (the hold off)
    lifted, _ = _lift(poses, scores, everywhere, collapse_hold_s=None)
    depth = np.array([people[0][2][skeleton.ROOT, 2] for people in lifted])
    assert depth[30:33].min() > 3 * depth[:30].max()
    with pytest.raises(OptionsError, match="collapse_hold_s"):
        LiftingOptions(collapse_hold_s=-1.0)


@pytest.mark.slow
def test_the_dance_blanked_below_the_chest_stays_where_she_is(
    media_dir: Path, pose_model_path: Path, tmp_path: Path
) -> None:
    """The QA's clip, decoded from PNGs (MediaPipe, the lifter): her root stayed 2.9-3.6 m away (16.6 m
    at most before, 7.8 m from one frame to the next), the avatar's hips under 1.9 m over the floor
    (3.5 m before)."""
    capture = cv2.VideoCapture(str(media_dir / "dance_576.mp4"))
    for i in range(120):
        image = capture.read()[1]
        image[259:] = 0
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), image)
    capture.release()
    with build_pipeline(PipelineOptions()) as pipeline, open_source(str(tmp_path)) as video:
        frames, lifting = list(pipeline.run(video)), pipeline.lifting
    roots = np.array([f.people[0].root_m if f.people and f.people[0].root_m is not None else np.full(3, np.nan)
                      for f in frames])  # fmt: skip
    heights = np.array([f.world.people[0].root_height_m for f in frames if f.world is not None and f.world.people])
    assert np.nanmax(roots[:, 2]) < 4.5 and np.nanmax(np.abs(np.diff(roots[:, 2]))) < 0.5
    assert heights.max() < 2.0
    assert lifting.collapsed_frames > 10


def test_a_person_who_looks_collapsed_from_the_start_or_for_long_is_lifted() -> None:
    """Review: a person filmed from straight above passes :func:`collapsed` in every frame and was
    ``lost`` for as long as they were in view. A hold starts only on a sudden collapse (within
    SUDDEN_S of a frame not collapsed) and lasts MAX_HOLD_S at most."""
    hold, seen, normal = CollapseHold(1.0), COLLAPSED_SCORES >= 0.3, COLLAPSED_PX.copy()
    normal[[_J["pelvis"], _J["l_hip"], _J["r_hip"]], 1] += 60.0
    assert not any(hold.held(COLLAPSED_PX, seen, int(t * 1e8)) for t in range(50))  # collapsed from the start
    assert not hold.held(normal, seen, int(5.0e9))
    steps = [hold.held(COLLAPSED_PX, seen, int(t * 1e8)) for t in range(51, 100)]  # collapsed from 5.1 s on
    assert steps == [t <= 81 for t in range(51, 100)]  # held from 5.1 to 8.1 s (3 s), then lifted
    assert not hold.held(normal, seen, int(10.0e9)) and hold.held(COLLAPSED_PX, seen, int(10.1e9))  # sudden again
