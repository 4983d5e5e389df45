"""``tools/clip_figures_truth.py``: the real clips' figures of the published skeleton against the
truth's, on a real mocap walk (CMU 08_04, in the repository) filmed by a webcam, through the real
lifter (the default model)."""

from __future__ import annotations

import numpy as np
from posecast.engines.runtime.base import DEFAULT_MODEL_NAME
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.evaluate import build_eval_clips
from posecast.realtime.compare import shoulder_turn_deg, torso_tilt_deg


def _walk(walk_joints: np.ndarray, noisy: bool) -> list:
    return build_eval_clips([Clip("08_04", walk_joints, 30.0, subject="08", source="cmu")], noisy=noisy, seed=3)


def test_each_figure_is_paired_with_the_truth_of_the_same_frames(load_tool, walk_joints: np.ndarray) -> None:  # noqa: ANN001
    tool = load_tool("clip_figures_truth")
    (clip,) = _walk(walk_joints, noisy=False)
    figures = tool.scores([clip], 1, DEFAULT_MODEL_NAME)
    truth = clip.joints_cam_m.astype(np.float64)
    # exact 2D: a pose in every frame, so the truth's median is the clip's own
    assert figures["torso_tilt_deg"]["values"] == len(truth)
    assert figures["torso_tilt_deg"]["truth"] == round(float(np.median(torso_tilt_deg(truth))), 2)
    assert figures["shoulder_turn_deg"]["truth"] == round(float(np.median(shoulder_turn_deg(truth))), 2)
    # a walk seen from the side: legs straight in the image in some frames, scored on both skeletons
    assert 0 < figures["torso_lean_deg"]["values"] < len(truth)
    assert figures["standing_knee_bend_deg"]["values"] > 0
    for figure in figures.values():
        assert figure["error"] >= abs(figure["difference"]) - 0.011  # median |d| >= |median d| (rounded)
        assert np.isfinite([figure["published"], figure["truth"], figure["difference"], figure["error"]]).all()
    # the depth the lifter adds: the shoulder line turned out of the image plane as the person's is
    # (37.5° here; the flat 2D pose would give 0°), and the shoulders' depth gap within 5 cm
    assert figures["shoulder_turn_deg"]["truth"] > 30.0
    assert figures["shoulder_turn_deg"]["error"] < 6.0 and figures["shoulder_depth_gap_cm"]["error"] < 5.0


def test_detector_noise_turns_the_published_torso_faster_than_the_person(load_tool, walk_joints: np.ndarray) -> None:  # noqa: ANN001
    tool = load_tool("clip_figures_truth")
    exact = tool.scores(_walk(walk_joints, noisy=False), 1, DEFAULT_MODEL_NAME)["torso_turn_speed_deg_s"]
    noisy = tool.scores(_walk(walk_joints, noisy=True), 1, DEFAULT_MODEL_NAME)["torso_turn_speed_deg_s"]
    assert noisy["difference"] > exact["difference"]
    assert noisy["published"] > noisy["truth"]
    slow = tool.scores(_walk(walk_joints, noisy=False), 6, DEFAULT_MODEL_NAME)  # 5 fps: a sixth of the frames
    assert exact["values"] // 7 < slow["torso_turn_speed_deg_s"]["values"] < exact["values"] // 5

