"""``posecast lift`` of another detector's keypoints (COCO-17, MediaPipe-33) as the detector gives
them: the same 3D as the same person in posecast's joint order, on the squats clip's real
MediaPipe 2D, through the real model; a wrong or unknown ``layout`` is one line."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.engines.layouts import COCO_17, MEDIAPIPE_33
from posecast.engines.lift_input import load_lift_input
from posecast.realtime.cli import main

INTRINSICS = CameraIntrinsics.from_hfov(60.0, 720, 1280).as_array()


@pytest.fixture(scope="module")
def landmarks_px(media_dir: Path) -> np.ndarray:
    """The squats clip's reference MediaPipe 2D, ``(65, 33, 2)`` pixels."""
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    return landmarks[..., :2]


def _as_coco(landmarks: np.ndarray) -> np.ndarray:
    """MediaPipe's landmarks cut down to COCO-17's keypoints, in COCO's order (every COCO keypoint
    is one of MediaPipe's, by name)."""
    index = {name: i for i, name in enumerate(MEDIAPIPE_33.keypoint_names)}
    return landmarks[:, [index[name] for name in COCO_17.keypoint_names]]


def _lift(tmp_path: Path, name: str, **arrays: object) -> tuple[int, str, Path]:
    np.savez(tmp_path / f"{name}.npz", intrinsics=INTRINSICS, fps=5.0, **arrays)
    out, err = tmp_path / f"{name}_3d.npz", io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["lift", "--input", str(tmp_path / f"{name}.npz"), "--output", str(out)])
    return code, err.getvalue(), out


def test_coco_and_mediapipe_keypoints_lift_as_posecast_order(tmp_path, landmarks_px) -> None:
    """COCO-17 named by ``layout`` and MediaPipe's 33 (named or not) give the same 3D as the
    same 2D mapped to posecast's order; COCO-17 unnamed is refused, naming the fix."""
    scores = np.random.default_rng(0).uniform(0.3, 1.0, landmarks_px.shape[:2])
    posecast_order = skeleton.from_mediapipe(np.concatenate([landmarks_px, scores[..., None]], axis=-1))
    code, err, reference = _lift(tmp_path, "posecast", keypoints_2d=posecast_order[..., :2],
                                 confidence=posecast_order[..., 2])  # fmt: skip
    assert code == 0, err
    coco_index = [MEDIAPIPE_33.keypoint_names.index(name) for name in COCO_17.keypoint_names]
    cases = {
        "coco": {"keypoints_2d": _as_coco(landmarks_px), "confidence": scores[:, coco_index], "layout": "coco-17"},
        "mediapipe_named": {"keypoints_2d": landmarks_px, "confidence": scores, "layout": np.array(b"mediapipe-33")},
        "mediapipe": {"keypoints_2d": landmarks_px, "confidence": scores},
    }
    with np.load(reference) as expected:
        assert np.isfinite(expected["joints_3d"]).all()
        for name, arrays in cases.items():
            code, err, out = _lift(tmp_path, name, **arrays)
            assert code == 0, (name, err)
            with np.load(out) as got:
                np.testing.assert_allclose(got["joints_3d"], expected["joints_3d"], atol=1e-6, err_msg=name)
    code, err, out = _lift(tmp_path, "coco_unnamed", keypoints_2d=_as_coco(landmarks_px))
    assert code == 2 and not out.exists(), err
    assert "keypoints_2d are not in posecast's joint order" in err and "layout='coco-17'" in err, err


def test_a_layouts_keypoints_reach_every_reader_mapped(tmp_path, landmarks_px) -> None:
    """The loader every reader shares (lift, adapt's footage, training on recorded 2D) maps the
    layout's keypoints and scores: the head between the ears, the pelvis between the hips."""
    scores = np.linspace(0.2, 1.0, 17)[None].repeat(len(landmarks_px), axis=0)
    np.savez(tmp_path / "coco.npz", keypoints_2d=_as_coco(landmarks_px), confidence=scores, layout="COCO-17",
             intrinsics=INTRINSICS)  # fmt: skip
    data = load_lift_input(tmp_path / "coco.npz")
    assert data.keypoints.shape == (65, 17, 2) and data.confidence.shape == (65, 17)
    ears = [COCO_17.keypoint_names.index(name) for name in ("left_ear", "right_ear")]
    hips = [COCO_17.keypoint_names.index(name) for name in ("left_hip", "right_hip")]
    coco = _as_coco(landmarks_px)
    np.testing.assert_allclose(data.keypoints[:, skeleton.HEAD], coco[:, ears].mean(axis=1))
    np.testing.assert_allclose(data.keypoints[:, skeleton.ROOT], coco[:, hips].mean(axis=1))
    np.testing.assert_allclose(data.confidence[:, skeleton.HEAD], scores[:, ears].mean(axis=1))
    left_knee = COCO_17.keypoint_names.index("left_knee")
    np.testing.assert_array_equal(data.keypoints[:, skeleton.JOINT_INDEX["l_knee"]], coco[:, left_knee])


def test_keypoints_yolo_pose_left_at_the_origin_are_placed_not_lifted(tmp_path, landmarks_px) -> None:
    """YOLO-pose writes (0, 0) for every keypoint under 0.5 confidence (ultralytics' Keypoints),
    COCO's annotations for one not seen: lifted as points at the image's corner they moved every
    joint of their frames by up to 0.67 m. Placed from the person's other frames, the 3D of those
    frames stays near the same clip lifted with every keypoint seen."""
    coco = _as_coco(landmarks_px)
    scores = np.full(coco.shape[:2], 0.9)
    code, err, clean = _lift(tmp_path, "seen", keypoints_2d=coco, confidence=scores, layout="coco-17")
    assert code == 0, err
    unseen = np.random.default_rng(0).random(len(coco)) < 0.3  # 20 of 65 frames
    hidden = [COCO_17.keypoint_names.index(name) for name in ("left_wrist", "right_ankle")]
    for k in hidden:
        coco[unseen, k], scores[unseen, k] = 0.0, 0.3
    code, err, out = _lift(tmp_path, "yolo", keypoints_2d=coco, confidence=scores, layout="coco-17")
    assert code == 0, err
    with np.load(clean) as expected, np.load(out) as got:
        moved_mm = 1000 * np.linalg.norm(got["joints_3d_rel"] - expected["joints_3d_rel"], axis=-1)
    filled = [skeleton.JOINT_INDEX[name] for name in ("l_wrist", "r_ankle")]
    others = [j for j in range(skeleton.NUM_JOINTS) if j not in filled]
    assert unseen.sum() == 20 and np.isfinite(moved_mm).all()
    # measured: the others 40 mm at most, the wrist 31 mm median (120 at most), the ankle 16 (38)
    assert moved_mm[unseen][:, others].max() < 55, moved_mm[unseen].max(axis=0).round()
    assert (np.median(moved_mm[unseen][:, filled], axis=0) < [42, 22]).all(), np.median(moved_mm[unseen], axis=0)
    assert moved_mm[unseen].max() < 160, moved_mm[unseen].max(axis=0).round()
