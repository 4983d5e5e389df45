"""The pipeline's records and the keypoint layouts: the mapping as data, the one clock."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.engines.layouts import COCO_17, LAYOUTS, MEDIAPIPE_33, POSECAST_17, KeypointLayout
from posecast.realtime.types import Detections2D, Frame, PersonPose


def test_mediapipe_layout_is_the_skeletons_one_mapping() -> None:
    landmarks = np.random.default_rng(0).normal(size=(4, 33, 2)).astype(np.float32)
    mapped = MEDIAPIPE_33.to_posecast(landmarks)
    assert mapped.dtype == np.float32
    np.testing.assert_array_equal(mapped, skeleton.from_mediapipe(landmarks))  # bit for bit


def test_coco_layout_maps_limbs_and_mid_ears() -> None:
    coco = np.random.default_rng(1).uniform(0, 500, size=(2, 17, 2))
    mapped = COCO_17.to_posecast(coco)
    j = skeleton.JOINT_INDEX
    np.testing.assert_array_equal(mapped[:, j["l_wrist"]], coco[:, 9])
    np.testing.assert_array_equal(mapped[:, j["r_ankle"]], coco[:, 16])
    np.testing.assert_allclose(mapped[:, j["head"]], (coco[:, 3] + coco[:, 4]) / 2)
    np.testing.assert_allclose(mapped[:, j["pelvis"]], (coco[:, 11] + coco[:, 12]) / 2)
    np.testing.assert_allclose(mapped[:, j["neck"]], (mapped[:, j["thorax"]] + mapped[:, j["head"]]) / 2)


def test_scores_map_like_keypoints() -> None:
    scores = np.random.default_rng(2).uniform(size=(3, 33)).astype(np.float32)
    confidence = MEDIAPIPE_33.to_posecast(scores[..., None])[..., 0]
    assert confidence.shape == (3, 17) and confidence.min() >= 0 and confidence.max() <= 1
    np.testing.assert_array_equal(confidence, skeleton.from_mediapipe(scores[..., None])[..., 0])


def test_posecast_layout_is_the_identity() -> None:
    joints = np.random.default_rng(3).normal(size=(17, 2))
    np.testing.assert_array_equal(POSECAST_17.to_posecast(joints), joints)
    assert set(LAYOUTS) == {"mediapipe-33", "coco-17", "posecast-17"}


def test_bad_layouts_are_rejected() -> None:
    with pytest.raises(ValueError, match="needs 17 entries"):
        KeypointLayout("short", ("a",), ((0,),))
    with pytest.raises(ValueError, match="only the derived joints"):
        KeypointLayout("hole", skeleton.JOINT_NAMES, tuple(() if j == 3 else (j,) for j in range(17)))
    with pytest.raises(ValueError, match="out of range"):
        KeypointLayout("far", ("a",), tuple((j,) for j in range(17)))
    with pytest.raises(ValueError, match=r"expects \(\.\.\., 33, C\)"):
        MEDIAPIPE_33.to_posecast(np.zeros((17, 2)))


def test_frame_clock_media_time_for_files_capture_time_live() -> None:
    image = np.zeros((4, 6, 3), np.uint8)
    live = Frame(10, 123_456_789, image, 30.0)
    assert live.timestamp_ns == 123_456_789 and live.image_size == (6, 4)
    file = Frame(10, 123_456_789, image, 25.0, on_media_time=True)
    assert file.timestamp_ns == 400_000_000
    unknown_rate = Frame(10, 5, image, 0.0, on_media_time=True)
    assert unknown_rate.timestamp_ns == 5


def test_detections_shapes_are_checked() -> None:
    frame = Frame(3, 7, np.zeros((8, 8, 3), np.uint8), 30.0)
    empty = Detections2D.empty(frame, COCO_17)
    assert empty.count == 0 and empty.keypoints_px.shape == (0, 17, 2) and empty.timestamp_ns == 7
    with pytest.raises(ValueError, match="must be keypoints"):
        Detections2D(3, 7, 7, (8, 8), COCO_17, np.zeros((1, 33, 2), np.float32), np.zeros((1, 33), np.float32),
                     np.zeros(1, np.int64))  # fmt: skip


def test_lost_person_has_no_3d() -> None:
    lost = PersonPose.lost(4)
    assert lost.tracking == "lost" and lost.person_id == 4
    assert lost.joints_m is None and lost.root_m is None and not lost.confidence.any()


def test_unused_keypoints_never_reach_the_joints_and_any_source_count_works() -> None:
    landmarks = np.random.default_rng(4).normal(size=(2, 33, 2))
    landmarks[:, 0] = np.nan  # the nose is not used by any joint
    assert np.isfinite(MEDIAPIPE_33.to_posecast(landmarks)).all()
    # a head from three keypoints (nose and both ears) takes the general path: their mean
    sources = list(COCO_17.joint_sources)
    sources[skeleton.HEAD] = (0, 3, 4)
    three = KeypointLayout("coco-head3", COCO_17.keypoint_names, tuple(sources))
    coco = np.random.default_rng(5).normal(size=(17, 2))
    np.testing.assert_allclose(three.to_posecast(coco)[skeleton.HEAD], coco[[0, 3, 4]].mean(axis=0))
    np.testing.assert_allclose(three.to_posecast(coco)[skeleton.ROOT], COCO_17.to_posecast(coco)[skeleton.ROOT])
