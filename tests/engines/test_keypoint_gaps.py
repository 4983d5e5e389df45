"""Unseen keypoints (NaN, or (0, 0) as COCO and YOLO-pose write them) placed from the person's
other frames (engines/keypoint_gaps.py), on a synthetic walker whose truth is known."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import rotations, skeleton
from posecast.engines.keypoint_gaps import to_posecast_filled, unseen_keypoints
from posecast.engines.layouts import COCO_17, POSECAST_17

J = skeleton.JOINT_INDEX
COCO = {name: i for i, name in enumerate(COCO_17.keypoint_names)}


def _walker_px(frames: int = 10) -> np.ndarray:
    """posecast's 17 joints of a standing person 3 m from a 500 px camera, moving 4 px to the
    right and swinging the left wrist 3 px down each frame: ``(F, 17, 2)`` pixels."""
    standing = rotations.rest_pose(skeleton.bone_lengths_from_height(1.7))
    joints = np.array([320.0, 240.0]) + 500 * standing[:, :2] * [1.0, -1.0] / 3.0
    out = np.repeat(joints[None], frames, axis=0) + np.arange(frames)[:, None, None] * [4.0, 0.0]
    out[:, J["l_wrist"], 1] += 3.0 * np.arange(frames)
    return out


def _coco(joints: np.ndarray) -> np.ndarray:
    """posecast joints → COCO-17 keypoints (the face's five points at the head)."""
    names = {"left_": "l_", "right_": "r_"}
    out = []
    for name in COCO_17.keypoint_names:
        side = next((short for long, short in names.items() if name.startswith(long)), None)
        joint = "head" if side is None or name.endswith(("eye", "ear")) else side + name.split("_", 1)[1]
        out.append(joints[:, J[joint]])
    return np.stack(out, axis=1)


def test_unseen_is_nan_or_the_exact_origin() -> None:
    keypoints = np.array([[[0.0, 0.0], [0.0, 1e-9], [np.nan, 5.0], [3.0, 4.0]]])
    assert unseen_keypoints(keypoints).tolist() == [[True, False, True, False]]


def test_an_input_with_nothing_unseen_is_mapped_as_the_live_pipeline_maps_it() -> None:
    coco = _coco(_walker_px())
    scores = np.random.default_rng(0).uniform(0.2, 1.0, coco.shape[:2])
    joints = to_posecast_filled(coco, scores, COCO_17)
    mapped = COCO_17.to_posecast(np.concatenate([coco, scores[..., None]], axis=-1))
    np.testing.assert_array_equal(joints.keypoints, mapped[..., :2])
    np.testing.assert_array_equal(joints.confidence, mapped[..., 2])
    assert not joints.filled.any() and joints.hung == ()


def test_a_limb_joint_follows_its_parent_by_the_vector_of_the_frames_around() -> None:
    """The left wrist unseen in frames 3-6 (at (0, 0), score 0.3 as YOLO-pose leaves it): placed
    from the elbow by the elbow→wrist vector interpolated between frames 2 and 7 (here exact: the
    swing is linear), held before the first sighting; confidence 0 where filled."""
    truth = _walker_px()
    coco = _coco(truth)
    wrist = COCO["left_wrist"]
    scores = np.full(coco.shape[:2], 0.9)
    coco[3:7, wrist], scores[3:7, wrist] = 0.0, 0.3
    coco[0, wrist] = np.nan  # the first frame too: held from frame 1
    joints = to_posecast_filled(coco, scores, COCO_17)
    np.testing.assert_allclose(joints.keypoints[1:], truth[1:], atol=1e-9)
    held = truth[0, J["l_elbow"]] + (truth[1, J["l_wrist"]] - truth[1, J["l_elbow"]])
    np.testing.assert_allclose(joints.keypoints[0, J["l_wrist"]], held)
    assert joints.filled[:, J["l_wrist"]].tolist() == [True, False, False, True, True, True, True, False, False, False]
    assert joints.filled.sum() == 5 and (joints.confidence[joints.filled] == 0).all()
    assert (joints.confidence[~joints.filled] == pytest.approx(0.9))


def test_the_head_from_one_ear_and_a_hip_from_the_other() -> None:
    """In profile one ear is unseen: the head is the other (the mean of the seen ones). A hip
    unseen for a frame: placed from the other hip, and the pelvis made from both."""
    truth = _walker_px()
    coco = _coco(truth)
    coco[:, COCO["right_ear"]] = 0.0
    coco[4, COCO["left_hip"]] = np.nan
    joints = to_posecast_filled(coco, np.ones(coco.shape[:2]), COCO_17)
    np.testing.assert_allclose(joints.keypoints, truth, atol=1e-9)
    assert not joints.filled[:, J["head"]].any()  # one ear seen: the head is seen
    assert np.flatnonzero(joints.filled[:, J["l_hip"]]).tolist() == [4]
    assert joints.confidence[4, J["pelvis"]] == pytest.approx(0.5)  # derived: the mean of its hips'


def test_a_joint_never_seen_with_its_parent_hangs_at_a_typical_length() -> None:
    """The left ankle never seen (legs under a desk): straight below the knee, the shin's
    typical share of the torso's length in the image; reported as a guess."""
    truth = _walker_px()
    coco = _coco(truth)
    coco[:, COCO["left_ankle"]] = 0.0
    joints = to_posecast_filled(coco, np.ones(coco.shape[:2]), COCO_17)
    assert joints.hung == ("l_ankle",) and joints.filled[:, J["l_ankle"]].all()
    typical = dict(zip(skeleton.BONE_NAMES, skeleton.bone_lengths_from_height(1.7), strict=True))
    torso_px = np.linalg.norm(truth[:, J["thorax"]] - truth[:, J["pelvis"]], axis=-1)
    shin_px = typical["l_knee-l_ankle"] / (typical["pelvis-spine"] + typical["spine-thorax"]) * torso_px
    np.testing.assert_allclose(joints.keypoints[:, J["l_ankle"]] - joints.keypoints[:, J["l_knee"]],
                               np.stack([np.zeros(len(truth)), shin_px], axis=-1))  # fmt: skip


def test_both_hips_unseen_come_from_the_shoulders() -> None:
    """Both hips unseen in frames 2-3 (a desk in the way): each placed from the same side's
    shoulder by the vector of the frames around (exact here: the torso does not change)."""
    truth = _walker_px()
    keypoints = truth.copy()
    keypoints[2:4, J["r_hip"]] = np.nan
    keypoints[2:4, J["l_hip"]] = 0.0
    keypoints[2:4, J["pelvis"]] = np.nan  # posecast-17's own axial joint, unseen with them
    joints = to_posecast_filled(keypoints, np.ones(keypoints.shape[:2]), POSECAST_17)
    np.testing.assert_allclose(joints.keypoints, truth, atol=1e-9)
    assert np.flatnonzero(joints.filled.any(axis=0)).tolist() == [J["pelvis"], J["r_hip"], J["l_hip"]]
    assert joints.filled[2:4].sum() == 6 and (joints.confidence[joints.filled] == 0).all()


def test_a_few_points_are_not_made_a_person() -> None:
    """Only the shoulders and the head seen: no person (a whole body was filled in from three
    points, 62-126 mm off; review); eight of the thirteen joints a detector sees make one."""
    truth = _walker_px()
    keypoints = truth.copy()
    sparse = [j for j in range(17) if j not in (J["l_shoulder"], J["r_shoulder"], J["head"])]
    keypoints[3][sparse] = np.nan
    keypoints[5][[J["l_wrist"], J["r_wrist"], J["l_ankle"], J["r_ankle"], J["l_elbow"]]] = np.nan  # 8 of 13 left
    joints = to_posecast_filled(keypoints, np.ones(keypoints.shape[:2]), POSECAST_17)
    whole = np.isfinite(joints.keypoints).all(axis=(1, 2))
    assert whole.tolist() == [True, True, True, False, True, True, True, True, True, True]


def test_a_vector_is_carried_a_second_at_most() -> None:
    """A wrist unseen for 3 s of a 30 fps clip: placed from its vector within a second of the
    frames where it was seen, hung in the default pose in between, and said to be (review: a
    vector was held for any time, across gaps where lift restarts its window)."""
    truth = np.concatenate([_walker_px(10)] * 12)  # 120 frames, 4 s
    keypoints = truth.copy()
    keypoints[5:95, J["l_wrist"]] = 0.0  # frames 5-94: 3 s
    joints = to_posecast_filled(keypoints, np.ones(keypoints.shape[:2]), POSECAST_17, np.arange(120) / 30.0)
    assert joints.hung == ("l_wrist",) and joints.filled[5:95, J["l_wrist"]].all()
    from_elbow = joints.keypoints[:, J["l_wrist"]] - joints.keypoints[:, J["l_elbow"]]
    hanging = (from_elbow[:, 0] == 0) & (from_elbow[:, 1] > 0)
    assert not hanging[5:35].any() and hanging[36:64].all() and not hanging[65:95].any()


def test_no_vector_is_taken_from_a_frame_without_a_person() -> None:
    """A frame with a keypoint beyond the image's range (or infinite) has no person, and lends no
    vector to the frames around it (one wrist at 1e9 px unplaced every frame; review)."""
    truth = _walker_px()
    keypoints = truth.copy()
    keypoints[2, J["l_wrist"]] = [1e9, 0.0]
    keypoints[3, J["r_wrist"]] = [np.inf, 5.0]
    keypoints[4:6, J["l_wrist"]] = np.nan
    joints = to_posecast_filled(keypoints, np.ones(keypoints.shape[:2]), POSECAST_17, max_pixels=1e7)
    whole = np.isfinite(joints.keypoints).all(axis=(1, 2))
    assert whole.tolist() == [True, True, False, False, True, True, True, True, True, True]
    np.testing.assert_allclose(joints.keypoints[4:6], truth[4:6], atol=1e-9)  # from frames 1 and 6


def test_what_cannot_be_placed_leaves_the_frame_without_a_person() -> None:
    """A frame with nothing seen stays without a person (NaN throughout, confidence 0), the others
    whole; a hip never seen together with the other hip or its shoulder has nothing to be placed
    from: no frame has a person."""
    truth = _walker_px()
    keypoints = truth.copy()
    keypoints[6] = np.nan
    joints = to_posecast_filled(keypoints, np.ones(keypoints.shape[:2]), POSECAST_17)
    assert np.isfinite(joints.keypoints).all(axis=(1, 2)).tolist() == [True] * 6 + [False] + [True] * 3
    assert (joints.confidence[6] == 0).all() and not joints.filled.any()
    keypoints[:, J["l_hip"]] = 0.0  # never seen
    joints = to_posecast_filled(keypoints, np.ones(keypoints.shape[:2]), POSECAST_17)
    assert not np.isfinite(joints.keypoints).any()
    assert (joints.confidence == 0).all() and not joints.filled.any() and joints.hung == ()
