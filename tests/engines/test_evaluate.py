"""Held-out evaluation: fixed virtual cameras per clip, causal windows, metrics of a perfect predictor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import metrics, normalize, skeleton
from posecast.engines.errors import PosecastError, run_reporting
from posecast.engines.training.data import augment
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.data.framing import FramingOptions
from posecast.engines.training.evaluate import (
    EvalClip,
    build_eval_clips,
    camera_windows,
    causal_windows,
    evaluate,
    markdown_table,
    per_action_table,
)
from scipy.spatial.transform import Rotation


@pytest.fixture(scope="module")
def eval_clips(clips: list[Clip]) -> list[EvalClip]:
    return build_eval_clips(clips[:2], noisy=False)


def test_eval_clips_are_deterministic(clips: list[Clip], eval_clips: list[EvalClip]) -> None:
    again = build_eval_clips(clips[:2], noisy=False)
    for a, b in zip(eval_clips, again, strict=True):
        np.testing.assert_array_equal(a.keypoints_norm, b.keypoints_norm)
        np.testing.assert_array_equal(a.joints_cam_m, b.joints_cam_m)
    noisy, noisy_again = build_eval_clips(clips[:1], noisy=True), build_eval_clips(clips[:1], noisy=True)
    np.testing.assert_array_equal(noisy[0].keypoints_norm, noisy_again[0].keypoints_norm)
    assert np.abs(noisy[0].keypoints_norm - eval_clips[0].keypoints_norm).max() > 1e-4  # noise is on
    np.testing.assert_array_equal(noisy[0].joints_cam_m, eval_clips[0].joints_cam_m)  # same camera
    other_seed = build_eval_clips(clips[:1], noisy=False, seed=7)
    assert np.abs(other_seed[0].joints_cam_m - eval_clips[0].joints_cam_m).max() > 0.01


def test_eval_clip_contents(clips: list[Clip], eval_clips: list[EvalClip]) -> None:
    for clip, ev in zip(clips[:2], eval_clips, strict=True):
        frames = len(clip.joints_m)
        assert ev.name == clip.name and ev.action == clip.action
        assert ev.keypoints_norm.shape == (frames, 17, 2) and ev.joints_cam_m.shape == (frames, 17, 3)
        np.testing.assert_allclose(ev.keypoints_norm, normalize.project(ev.joints_cam_m), atol=1e-6)
        # one fixed rigid camera for the whole clip: the body is unchanged
        np.testing.assert_allclose(
            skeleton.bone_lengths(ev.joints_cam_m), skeleton.bone_lengths(clip.joints_m.astype(np.float64)), atol=1e-5
        )
        assert 1.4 < ev.height_m < 2.0


def test_causal_windows_pad_the_start_and_never_look_ahead() -> None:
    sequence = np.arange(6, dtype=np.float64)[:, None] * np.ones((1, 2))  # frame f holds f
    windows = causal_windows(sequence, 4)
    assert windows.shape == (6, 4, 2)
    np.testing.assert_array_equal(windows[:, :, 0], [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 2], [0, 1, 2, 3],
                                                     [1, 2, 3, 4], [2, 3, 4, 5]])  # fmt: skip
    assert (windows[..., 0].max(axis=1) == np.arange(6)).all()  # the newest frame is the current one
    np.testing.assert_array_equal(causal_windows(sequence, 1)[:, 0], sequence)


def test_camera_windows_at_the_clip_rate_are_the_causal_windows(eval_clips: list[EvalClip]) -> None:
    clip = eval_clips[0]
    windows, truth = camera_windows(clip, 9, camera_fps=30.0)
    np.testing.assert_allclose(windows, causal_windows(clip.keypoints_norm, 9), atol=1e-6)
    np.testing.assert_allclose(truth, clip.joints_cam_m, atol=1e-9)
    same, same_truth = camera_windows(clip, 9)  # no camera rate: the clip's frames themselves
    np.testing.assert_array_equal(same, causal_windows(clip.keypoints_norm, 9))
    assert same_truth is clip.joints_cam_m


def test_a_slower_camera_gives_its_frames_and_blends_between_them(eval_clips: list[EvalClip]) -> None:
    clip = eval_clips[0]
    frames = len(clip.keypoints_norm)
    windows, truth = camera_windows(clip, 9, camera_fps=10.0)  # every third frame of the 30 fps clip
    camera_frames = np.arange(0, frames, 3)
    assert windows.shape == (len(camera_frames), 9, 17, 2) and truth.shape == (len(camera_frames), 17, 3)
    np.testing.assert_allclose(truth, clip.joints_cam_m[camera_frames], atol=1e-9)
    np.testing.assert_allclose(windows[:, -1], clip.keypoints_norm[camera_frames], atol=1e-6)  # newest: exact
    # a slot between two camera frames is their blend, not the clip frame the camera never gave
    k = 5  # a window ending at camera frame 15: slot 7 is clip frame 14, a third of the way from 12 to 15
    expected = (clip.keypoints_norm[12] * 1.0 + clip.keypoints_norm[15] * 2.0) / 3.0
    np.testing.assert_allclose(windows[k, 7], expected, atol=1e-5)
    assert np.abs(windows[k, 7] - clip.keypoints_norm[14]).max() > 1e-5
    np.testing.assert_allclose(windows[k, 5], clip.keypoints_norm[12], atol=1e-6)  # on a camera frame: exact
    np.testing.assert_allclose(windows[1, 0], clip.keypoints_norm[0], atol=1e-6)  # before the first frame: it
    with pytest.raises(ValueError, match="camera_fps"):
        camera_windows(clip, 9, camera_fps=0.0)


def perfect_predictor(eval_clips: list[EvalClip]):  # noqa: ANN201
    """Returns the true root-relative camera-frame pose of each window's current frame, found by
    the exact 2D of that frame (noise-free 2D is a unique key per frame of these clips)."""
    truth = {}
    for clip in eval_clips:
        for keypoints, joints in zip(clip.keypoints_norm, clip.joints_cam_m, strict=True):
            truth[keypoints.tobytes()] = skeleton.root_relative(joints)
    assert len(truth) == sum(len(c.keypoints_norm) for c in eval_clips)

    def predict(windows: np.ndarray) -> np.ndarray:
        return np.stack([truth[np.ascontiguousarray(w[-1]).tobytes()] for w in windows])

    return predict


def test_perfect_predictor_scores_zero(eval_clips: list[EvalClip]) -> None:
    result = evaluate(perfect_predictor(eval_clips), eval_clips, window_frames=9, batch=50)
    assert result["frames"] == sum(len(c.keypoints_norm) for c in eval_clips) and result["clips"] == 2
    assert result["n_mpjpe_mm"] < 1e-6 and result["p_mpjpe_mm"] < 1e-6
    # metric MPJPE sizes the pose from the subject's height alone: small but not zero (CMU's
    # joint centres are further from the typical proportions than Bandai-Namco's, which gave < 10)
    assert 0.0 < result["mpjpe_mm"] < 25.0
    assert result["bone_cv"] < 0.02
    assert result["knee_bend_error_deg"] < 1e-3
    if result["straight_knees"]:
        assert result["straight_knee_bend_deg"] < 10.0
    assert set(result["per_action"]) == {c.action for c in eval_clips}
    for row in result["per_action"].values():
        assert row["n_mpjpe_mm"] < 1e-6 and row["frames"] > 0


def test_a_slower_camera_scores_its_frames(eval_clips: list[EvalClip]) -> None:
    result = evaluate(perfect_predictor(eval_clips), eval_clips, window_frames=9, camera_fps=10.0)
    assert result["frames"] == sum(len(range(0, len(c.keypoints_norm), 3)) for c in eval_clips)
    assert result["n_mpjpe_mm"] < 1e-6 and result["p_mpjpe_mm"] < 1e-6


def test_a_wrong_predictor_scores_worse(eval_clips: list[EvalClip]) -> None:
    perfect = perfect_predictor(eval_clips)
    rng = np.random.default_rng(0)

    def noisy(windows: np.ndarray) -> np.ndarray:
        return perfect(windows) + rng.normal(0.0, 0.05, (len(windows), 17, 3))  # 5 cm per axis

    result = evaluate(noisy, eval_clips, window_frames=9)
    assert 40.0 < result["p_mpjpe_mm"] < result["n_mpjpe_mm"] + 1.0 and result["n_mpjpe_mm"] < 150.0
    assert result["accel_error_mm"] > 50.0 and result["bone_cv"] > 0.05
    assert result["knee_bend_error_deg"] > 5.0


def test_the_upper_body_score_sees_a_turned_upper_body_and_not_the_legs(eval_clips: list[EvalClip]) -> None:
    perfect = perfect_predictor(eval_clips)
    legs = [skeleton.JOINT_INDEX[n] for n in ("l_knee", "l_ankle", "r_knee", "r_ankle")]

    def kicking(windows: np.ndarray) -> np.ndarray:  # every leg off by 30 cm: the upper body is exact
        joints = perfect(windows).astype(np.float64)
        joints[:, legs, 2] += 0.3
        return joints

    def turned(windows: np.ndarray) -> np.ndarray:  # the upper body turned 20° about the thorax
        joints = perfect(windows).astype(np.float64)
        thorax = joints[:, [skeleton.JOINT_INDEX["thorax"]]]
        upper = list(skeleton.UPPER_BODY)
        joints[:, upper] = Rotation.from_euler("y", 20, degrees=True).apply(
            (joints[:, upper] - thorax).reshape(-1, 3)).reshape(len(joints), -1, 3) + thorax  # fmt: skip
        return joints

    assert evaluate(perfect, eval_clips, window_frames=9)["upper_n_mpjpe_mm"] < 1e-6
    kicked = evaluate(kicking, eval_clips, window_frames=9)
    assert kicked["upper_n_mpjpe_mm"] < 1e-6 < kicked["n_mpjpe_mm"]
    assert evaluate(turned, eval_clips, window_frames=9)["upper_n_mpjpe_mm"] > 30.0


def test_legs_cut_eval_clips_change_only_the_legs_2d(clips: list[Clip]) -> None:
    whole = build_eval_clips(clips[:2], noisy=True)
    cut = build_eval_clips(clips[:2], noisy=True, framing=FramingOptions(prob=1.0))
    legs = [skeleton.JOINT_INDEX[n] for n in ("l_knee", "l_ankle", "r_knee", "r_ankle")]
    for a, b in zip(whole, cut, strict=True):
        np.testing.assert_array_equal(a.joints_cam_m, b.joints_cam_m)
        upper = [skeleton.JOINT_INDEX[n] for n in ("thorax", "head", "l_wrist", "r_wrist")]
        np.testing.assert_array_equal(a.keypoints_norm[:, upper], b.keypoints_norm[:, upper])
        assert np.abs(a.keypoints_norm[:, legs] - b.keypoints_norm[:, legs]).max() > 1e-3


def test_the_knee_figures_see_straightened_knees(eval_clips: list[EvalClip]) -> None:
    """A model that lifts every leg straight: the knee figures show it plainly."""
    perfect = perfect_predictor(eval_clips)

    def straight(windows: np.ndarray) -> np.ndarray:
        joints = perfect(windows).astype(np.float64)[:, None]  # (B, 1, 17, 3): one frame per "window"
        return augment.extend_knees(joints, np.random.default_rng(0), 1.0, (0.0, 0.0))[:, 0]

    truth = np.concatenate([metrics.knee_bend_deg(c.joints_cam_m) for c in eval_clips])
    result = evaluate(straight, eval_clips, window_frames=9)
    assert result["knee_bend_error_deg"] == pytest.approx(truth.mean(), rel=1e-3)
    assert result["straight_knees"] == int((truth < 10.0).sum())
    if result["straight_knees"]:
        assert result["straight_knee_bend_deg"] < 1e-3


def test_markdown_tables_render(eval_clips: list[EvalClip]) -> None:
    result = evaluate(perfect_predictor(eval_clips), eval_clips, window_frames=3)
    table = markdown_table([("perfect", result), ("again", result)])
    lines = table.strip().splitlines()
    assert lines[0].startswith("| model | MPJPE mm |") and len(lines) == 4
    assert lines[2].startswith("| perfect | ") and lines[2].count("|") == 7
    assert f"{result['mpjpe_mm']:.1f}" in lines[2] and "| 0.0 | 0.0 |" in lines[2]
    actions = per_action_table("perfect", result).strip().splitlines()
    assert len(actions) == 2 + len(result["per_action"])
    action = eval_clips[0].action
    frames = sum(len(c.keypoints_norm) for c in eval_clips if c.action == action)
    assert any(line.startswith(f"| {action} | {frames} |") for line in actions)


def test_the_tool_tables_the_upper_body_with_the_legs_cut(eval_clips: list[EvalClip], load_tool) -> None:  # noqa: ANN001
    tool = load_tool("evaluate")
    result = evaluate(perfect_predictor(eval_clips), eval_clips, window_frames=3)
    results = {f"both [{s}/{k}]": result for s in ("in_domain", "cross") for k in ("gt2d", "noisy2d", "legs_cut")}
    results |= {f"whole only [{s}/{k}]": result for s in ("in_domain", "cross") for k in ("gt2d", "noisy2d")}
    lines = [line for line in tool.results_markdown(results).splitlines() if line.startswith("| ")]
    head = next(i for i, line in enumerate(lines) if line.startswith("| model: upper body about the thorax"))
    assert lines[head + 1].startswith("| both | 0.0 | 0.0 | 0.0 | 0.0 |")  # the |---| line is not kept
    assert not any(line.startswith("| whole only") for line in lines[head : head + 4])
    no_cut = {k: v for k, v in results.items() if "legs_cut" not in k}
    assert "upper body about the thorax" not in tool.results_markdown(no_cut)


def test_the_tool_scores_flip_averaging_as_the_lifter_runs_it(clips: list[Clip], load_tool) -> None:  # noqa: ANN001
    """``tools/evaluate.py --model NAME:flip`` predicts what the live lifter publishes by default
    (each window averaged with its mirror image), and an unknown variant is refused."""
    from posecast.realtime.lifting.lifter import Lifter3D, LifterOptions

    tool = load_tool("evaluate")
    flip, window_frames = tool.make_predictor("supervised-upright-w384:flip")
    plain, _ = tool.make_predictor("supervised-upright-w384")
    windows = causal_windows(build_eval_clips(clips[:1], noisy=False)[0].keypoints_norm, window_frames)[:8]
    lifter = Lifter3D(LifterOptions(model_path="supervised-upright-w384", int8=False))
    live = lifter.process(np.ascontiguousarray(windows)).joints_rel
    lifter.close()
    np.testing.assert_allclose(flip(windows), live, atol=1e-6)
    assert np.abs(plain(windows) - live).max() > 1e-4
    with pytest.raises(ValueError, match="unknown model variant"):  # a ConfigError: one line, exit 2
        tool.make_predictor("supervised-upright-w384:fp16")
    ensemble, _ = tool.make_predictor("supervised-upright-w384:ensemble")
    assert np.abs(ensemble(windows) - live).max() > 1e-4  # another answer than any one view's


@pytest.mark.parametrize("rates", ["abc", "0", "60", "5,-1"])
def test_the_tool_refuses_a_bad_camera_rate(rates: str, tmp_path, capsys, load_tool) -> None:  # noqa: ANN001
    """A camera rate that is not a number in (0, 30] is a one-line usage error (exit 2), before any
    data is read or any file written."""
    tool = load_tool("evaluate")
    out = tmp_path / "results.json"
    with pytest.raises(SystemExit) as exit_info:
        tool.main(["--model", "flat", "--camera-fps", rates, "--json", str(out), "--data", "nowhere.tar.xz"])
    assert exit_info.value.code == 2
    assert "--camera-fps" in capsys.readouterr().err
    assert not out.exists()


def test_the_tool_refuses_a_negative_max_clips(tmp_path, capsys, load_tool) -> None:  # noqa: ANN001
    """-1 scored all but the last clip of each set, exit 0 (QA)."""
    tool = load_tool("evaluate")
    with pytest.raises(SystemExit) as exit_info:
        tool.main(["--model", "flat", "--max-clips", "-1", "--json", str(tmp_path / "r.json")])
    assert exit_info.value.code == 2
    assert "--max-clips must be 0 (every clip) or more, got -1" in capsys.readouterr().err


def test_the_tool_tables_slower_cameras_apart(load_tool) -> None:  # noqa: ANN001
    """``--camera-fps`` rows get their own table next to the clip-rate figures; the main tables
    keep the clip-rate sets only, and without such rows there is no rate table."""
    tool = load_tool("evaluate")
    figures = {"mpjpe_mm": 60.0, "n_mpjpe_mm": 55.0, "p_mpjpe_mm": 40.0, "p_mpjpe_15_mm": 42.0, "per_action": {}}
    results = {f"m [cross{rate}/{kind}]": figures | {"p_mpjpe_mm": 40.0 + i}
               for i, rate in enumerate(["", "@5fps"]) for kind in ("gt2d", "noisy2d")}  # fmt: skip
    text = tool.results_markdown(results)
    assert "| m | gt2d | clip (30 fps) | 60.0 / 55.0 / 40.0 |" in text
    assert "| m | gt2d | 5fps | 60.0 / 55.0 / 41.0 |" in text
    assert "cross@5fps MPJPE" not in text  # not a column group of the main tables
    clip_rate_only = tool.results_markdown({k: v for k, v in results.items() if "@" not in k})
    assert "| camera |" not in clip_rate_only and "| m | 60.0 | 55.0 | 40.0 | 42.0 |" in clip_rate_only


def test_seed_spread_summarises_webcam_draws(tmp_path, capsys, load_tool) -> None:  # noqa: ANN001
    """tools/seed_spread.py: per model, set and 2D the mean, lowest and highest figure over the
    seeds, and the paired difference to the reference at the same seed."""
    tool = load_tool("seed_spread")
    results = {}
    for seed, (a, b) in {2021: (50.0, 52.0), 1: (54.0, 55.0), 2: (46.0, 49.0)}.items():
        results[f"ours seed {seed} [cross/gt2d]"] = {"p_mpjpe_mm": a, "mpjpe_mm": a + 20}
        results[f"theirs seed {seed} [cross/gt2d]"] = {"p_mpjpe_mm": b, "mpjpe_mm": b + 20}
    results["unrelated [cross/gt2d]"] = {"p_mpjpe_mm": 1.0, "mpjpe_mm": 1.0}  # not a seed entry: ignored
    text = tool.spread_markdown(results)
    assert "| ours | cross / gt2d | 3 | 50.0 (46.0–54.0) | 70.0 (66.0–74.0) | – |" in text
    assert "| theirs | cross / gt2d | 3 | 52.0 (49.0–55.0) | 72.0 (69.0–75.0) | +2.0 (+1.0 to +3.0) |" in text
    assert "unrelated" not in text
    with pytest.raises(PosecastError, match="--reference ours:flip is none of the models scored: ours, theirs"):
        tool.spread_markdown(results, "ours:flip")  # (tools QA: every difference read "–", unsaid)
    path = tmp_path / "seeds.json"
    path.write_text("not json")
    with pytest.raises(SystemExit) as exit_info:
        tool.main([str(path)])
    assert exit_info.value.code == 2 and "not tools/evaluate.py's JSON" in capsys.readouterr().err


def test_adapt_experiment_averages_the_webcam_draws(load_tool) -> None:  # noqa: ANN001
    """tools/adapt_experiment.py's table: an entry scored on several draws gets rows of the means
    over them (the change of the means, and the single draws' range); one draw gets none."""
    tool = load_tool("adapt_experiment")
    figures = ("mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm")
    before = {f"{k}_{m}": 100.0 for k in ("gt2d", "gt2d@3", "noisy2d", "noisy2d@3") for m in figures}
    after = {f"{k}_{m}": v for k, v in (("gt2d", 90.0), ("gt2d@3", 80.0), ("noisy2d", 95.0), ("noisy2d@3", 97.0))
             for m in figures}  # fmt: skip
    entry = {"before": before, "after": after, "eval_seeds": [2021, 3], "steps": 10, "adapt_frames": 5, "minutes": 1}
    rows = tool.draws_mean_rows("p", entry)
    assert len(rows) == 2  # gt2d and noisy2d; no _flip figures in this entry
    assert "gt2d, mean of 2 webcam draws** (single draws -20.0 to -10.0 %) | 100.0 → 85.0" in rows[0]
    assert "**-15.0 %**" in rows[0] and "**-4.0 %**" in rows[1]
    assert tool.draws_mean_rows("p", entry | {"eval_seeds": [2021]}) == []
    assert "mean of 2 webcam draws" in tool.markdown({"p": entry})


def test_adapt_experiment_keeps_the_tables_preamble(load_tool, tmp_path: Path) -> None:  # noqa: ANN001
    """The Markdown's hand-written preamble survives a new run; the table is made anew."""
    tool = load_tool("adapt_experiment")
    figures = {f"gt2d_{m}": 50.0 for m in ("mpjpe_mm", "n_mpjpe_mm", "p_mpjpe_mm")}
    entry = {"before": figures, "after": figures, "steps": 3, "adapt_frames": 5, "minutes": 1}
    path = tmp_path / "adapt.md"
    tool.write_markdown(path, {"p": entry})  # a new file: the table alone
    assert path.read_text() == tool.markdown({"p": entry})
    path.write_text("# What these are\n\nSome words.\n\n| protocol | an old table |\n|---|\n")
    tool.write_markdown(path, {"p": entry, "q": entry})
    text = path.read_text()
    assert text.startswith("# What these are\n\nSome words.\n\n| protocol | 2D |") and "an old table" not in text
    assert text.count("| p (5 frames") == 1 and text.count("| q (5 frames") == 1


def test_knee_lag_figures(load_tool) -> None:  # noqa: ANN001
    """tools/knee_lag.py: the knee's speed over the last 0.2 s, the signed error per speed bin,
    and the torso's lean against straight standing legs (the rest pose leaned forwards 10°)."""
    from posecast.engines import rotations

    knee_lag = load_tool("knee_lag")
    bend = np.stack([np.arange(10.0) * 10.0, np.zeros(10)], axis=1)  # 10° a frame at 30 fps: 300 °/s
    speed = knee_lag.knee_speed_deg_s(bend, 30.0)
    assert np.isnan(speed[:6]).all() and np.allclose(speed[6:], [[300.0, 0.0]] * 4)
    rows = knee_lag.lag_by_speed(np.array([1.0, 2.0, -3.0]), np.array([200.0, 200.0, 0.0]))
    assert [r["knees"] for r in rows] == [0, 0, 1, 0, 2] and rows[4]["mean_error_deg"] == pytest.approx(1.5)
    assert rows[0]["from_deg_s"] is None and rows[0]["mean_error_deg"] is None
    pose = rotations.rest_pose(skeleton.bone_lengths_from_height(1.7))
    upper = [j for j in range(skeleton.NUM_JOINTS) if j not in (1, 2, 3, 4, 5, 6)]  # all but hips and legs
    pose[upper] = Rotation.from_euler("x", 10, degrees=True).apply(pose[upper] - pose[0]) + pose[0]
    standing = np.repeat(pose[None], 5, axis=0)
    assert knee_lag.standing_lean_deg(standing) == pytest.approx([10.0] * 5, abs=1e-6)
    raised = standing.copy()
    raised[:, skeleton.JOINT_INDEX["l_ankle"], 1] += 0.3  # a foot off the floor: not standing
    assert len(knee_lag.standing_lean_deg(raised)) == 0


def test_adapt_experiment_names_an_unknown_protocol(load_tool, capsys, tmp_path: Path) -> None:  # noqa: ANN001
    """A misspelt protocol is one usage error naming the choices, before any data is loaded."""
    tool = load_tool("adapt_experiment")
    with pytest.raises(SystemExit) as exit_info:
        tool.main(["--model", "m.onnx", "--json", str(tmp_path / "a.json"), "--protocols", "other-people,3d-label"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "unknown protocol(s) 3d-label" in err and "3d-labels-same-footage" in err
    assert not (tmp_path / "a.json").exists()


def test_whole_clips_are_scored_in_their_own_metres(eval_clips: list[EvalClip]) -> None:
    """``lift_clip`` (``:published``): a clip's metres are scored as they are (the truth scores zero
    even in MPJPE, which windows scale from the height), frames without a pose are left out and
    counted, and the two ways cannot be mixed."""
    truth = {id(c): skeleton.root_relative(c.joints_cam_m) for c in eval_clips}
    exact = evaluate(None, eval_clips, 0, lift_clip=lambda c: truth[id(c)])
    assert exact["mpjpe_mm"] < 1e-9 and exact["p_mpjpe_mm"] < 1e-9 and exact["frames_without_pose"] == 0

    def with_gaps(clip: EvalClip) -> np.ndarray:
        poses = truth[id(clip)] * 1.1  # 10 % too big: MPJPE sees it, P-MPJPE does not
        poses[::4] = np.nan
        return poses

    gaps = evaluate(None, eval_clips, 0, lift_clip=with_gaps)
    frames = sum(len(c.keypoints_norm) for c in eval_clips)
    left_out = sum(len(range(0, len(c.keypoints_norm), 4)) for c in eval_clips)
    assert gaps["frames_without_pose"] == left_out and gaps["frames"] == frames - left_out
    assert gaps["mpjpe_mm"] > 10.0 and gaps["p_mpjpe_mm"] < 1e-6
    assert np.isnan(gaps["accel_error_mm"])  # no clip is a whole motion any more
    with pytest.raises(ValueError, match="predict or lift_clip"):
        evaluate(perfect_predictor(eval_clips), eval_clips, 9, lift_clip=with_gaps)
    with pytest.raises(ValueError, match="predict or lift_clip"):
        evaluate(None, eval_clips, 9, camera_fps=10.0, lift_clip=with_gaps)


def test_the_tool_scores_what_posecast_run_publishes(clips: list[Clip], load_tool) -> None:  # noqa: ANN001
    """``:published`` runs each clip through the live lifting stage (``posecast lift``'s path): the
    same frames, published in metres with constant bone lengths once they are measured (2 s) and
    reached; ``:published+height`` the same without the live measurement: the same lengths until
    2 s, others after."""
    tool = load_tool("evaluate")
    clip = build_eval_clips(clips[:1], noisy=True)[0]
    assert clip.confidence is not None and clip.confidence.shape == clip.keypoints_norm.shape[:2]
    published = tool.published_lifter("supervised-current-w384")(clip)
    assert published.shape == clip.joints_cam_m.shape and np.isfinite(published).all()
    np.testing.assert_allclose(published[:, skeleton.ROOT], 0.0, atol=1e-9)  # root-relative
    lengths = skeleton.bone_lengths(published)
    settled = lengths[int(3.0 * 30) :]
    assert len(settled) and np.ptp(settled, axis=0).max() < 1e-6  # locked: the same lengths every frame
    smoother_alone = skeleton.bone_lengths(tool.published_lifter("supervised-current-w384", "published+height")(clip))
    np.testing.assert_array_equal(smoother_alone[:59], lengths[:59])
    assert np.abs(smoother_alone[-1] - lengths[-1]).max() > 1e-3
    result = evaluate(None, [clip], 0, lift_clip=tool.published_lifter("supervised-current-w384"))
    flat = evaluate(tool.flat_predictor, [clip], 1)
    assert result["frames_without_pose"] == 0 and result["p_mpjpe_mm"] < 0.8 * flat["p_mpjpe_mm"]


def test_the_tool_scores_the_published_3d_with_a_calibrated_subject(clips: list[Clip], load_tool) -> None:  # noqa: ANN001
    """``:published+subject``: a subject file that ``calibrate subject``'s maths made from the
    clip's first 5 s holds the bone lengths from the first frame, for the clip's true height (the
    height alone lets them settle from typical proportions)."""
    tool = load_tool("evaluate")
    clip = build_eval_clips(clips[:1], noisy=False)[0]
    calibrated = tool.published_lifter("supervised-current-w384", "published+subject")(clip)
    assert calibrated.shape == clip.joints_cam_m.shape and np.isfinite(calibrated).all()
    lengths = skeleton.bone_lengths(calibrated)
    assert np.ptp(lengths, axis=0).max() < 1e-9  # the file's lengths in every frame
    assert skeleton.height_from_bone_lengths(lengths[0]) == pytest.approx(clip.height_m, rel=0.01)
    alone = skeleton.bone_lengths(tool.published_lifter("supervised-current-w384", "published+height")(clip))
    assert np.ptp(alone[:30], axis=0).max() > 1e-3  # settling
    assert np.abs(alone[-1] - lengths[0]).max() > 1e-3  # and to other lengths than the calibration's


def test_score_from_seconds_leaves_the_first_frames_out(clips: list[Clip], load_tool) -> None:  # noqa: ANN001
    """``--score-from-s``: the frames before it count as without a pose; the rest score as before."""
    tool = load_tool("evaluate")
    clip = build_eval_clips(clips[:1], noisy=False)[0]
    truth = lambda c: skeleton.root_relative(c.joints_cam_m)  # noqa: E731
    later = tool.from_seconds(truth, 1.0)(clip)
    assert np.isnan(later[:30]).all() and np.isfinite(later[30:]).all()
    result = evaluate(None, [clip], 0, lift_clip=tool.from_seconds(truth, 1.0))
    assert result["frames_without_pose"] == 30 and result["p_mpjpe_mm"] < 1e-6


def test_the_untouched_set_is_a_person_every_cmu_trained_model_held_out(load_tool, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """``--sets untouched`` (CMU subject 08) is apart from the cross set that chose between models,
    and every shipped model that saw CMU says in its metadata that it held 08 out."""
    from posecast.engines import metadata
    from posecast.engines.runtime.base import MODELS, resolve_model
    from posecast.engines.training.data.dataset import load_source

    tool = load_tool("evaluate")
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path))  # the parsed takes are cached
    names = ["cross", "cross_own_bodies", "untouched"]
    sets = tool.eval_sets(load_source(Path(__file__).resolve().parents[1] / "fixtures" / "cmu"), names)
    assert {c.subject for c in sets["untouched"]} == {"08"}
    assert {c.subject for c in sets["cross"]} == {"09", "13", "49"}
    # 13's Daz BVH carries the standard figure of most CMU training takes: not a new body
    assert {c.subject for c in sets["cross_own_bodies"]} == {"09", "49"}
    for name in MODELS:
        data = metadata.read_onnx_metadata(resolve_model(name)).training_data
        if "CMU" in data:
            assert "CMU subjects 09, 13, 49, 08 held out" in data, name


def test_body_swap_gives_a_motion_another_body_at_its_own_height(load_tool, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """tools/body_swap.py: each bone keeps its direction and takes the other body's proportions,
    scaled to the mover's height; the tool scores every motion with every body."""
    from posecast.engines import skeleton
    from posecast.engines.training.data.dataset import load_source

    tool = load_tool("body_swap")
    monkeypatch.setenv("POSECAST_CACHE", str(tmp_path))  # the parsed takes are cached
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "cmu"
    clips = {c.subject: c for c in load_source(fixtures)}
    mover, body = clips["49"], clips["13"]
    own, other = tool.subject_lengths([mover]), tool.subject_lengths([body])
    swapped = tool.with_body(mover, own, other)
    lengths = tool.subject_lengths([swapped])
    assert np.isclose(skeleton.height_from_bone_lengths(lengths), skeleton.height_from_bone_lengths(own), rtol=1e-3)
    np.testing.assert_allclose(lengths / lengths.sum(), other / other.sum(), atol=1e-4)  # the other's proportions
    child, parent = (np.array(side) for side in zip(*skeleton.BONES, strict=True))

    def directions(joints: np.ndarray) -> np.ndarray:
        vectors = joints[:, child].astype(np.float64) - joints[:, parent]
        return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)

    assert np.sum(directions(mover.joints_m) * directions(swapped.joints_m), -1).min() > 0.9999  # directions kept
    out = tmp_path / "swap.json"
    assert tool.main(["--data", str(fixtures), "--seeds", "2021", "--model", "flat", "--json", str(out)]) == 0
    scores = json.loads(out.read_text())["p_mpjpe_mm"]
    assert len(scores) == 9 and all(np.isfinite(v["mean"]) for v in scores.values())
    # one line, exit 2: a bad seed, data without the cross people (a traceback each)
    assert tool.main(["--data", str(fixtures), "--seeds", "1,x", "--json", str(out)]) == 2
    only_08 = tmp_path / "only08"
    only_08.mkdir()
    (only_08 / "08_04.bvh").write_bytes((fixtures / "08_04.bvh").read_bytes())
    assert tool.main(["--data", str(only_08), "--seeds", "1", "--model", "flat", "--json", str(out)]) == 2


def test_model_variants_that_cannot_be_scored_are_refused_in_one_line(load_tool) -> None:  # noqa: ANN001
    """``:int8`` on a training checkpoint scored the float network under the INT8 label; an
    unknown variant ended with SystemExit's exit 1."""
    from posecast.engines.training.config import ConfigError

    tool = load_tool("evaluate")
    with pytest.raises(ConfigError, match=r"run/last.pt:int8: :int8 needs an ONNX model"):
        tool.make_predictor("run/last.pt:int8")
    with pytest.raises(ConfigError, match="unknown model variant 'int9'"):
        tool.make_predictor("supervised-w384:int9")


def test_the_tool_says_which_rows_were_scored_alike_and_writes_strict_json(tmp_path, load_tool, caplog,  # noqa: ANN001
                                                                          posecast_cache) -> None:  # noqa: ANN001
    """QA: rows scored on other --max-clips / --seed were merged into one table with no record of
    which; a set without a straight knee wrote NaN, which strict JSON readers refuse."""
    import json
    import logging

    tool = load_tool("evaluate")
    cmu = Path(__file__).resolve().parents[1] / "fixtures" / "cmu"
    out = tmp_path / "r.json"
    common = ["--data", str(cmu), "--sets", "untouched", "--json", str(out)]
    assert tool.main(["--model", "flat", *common, "--max-clips", "1"]) == 0
    rows = json.loads(out.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))
    assert {(r["seed"], r["max_clips"]) for r in rows.values()} == {(2021, 1)}
    with caplog.at_level(logging.WARNING, logger="evaluate"):
        assert tool.main(["--model", "again=flat", *common, "--seed", "7"]) == 0  # beside the first rows
    assert "holds rows scored with other --seed / --max-clips" in caplog.text


def test_the_tool_warns_when_a_checkpoint_trained_on_the_people_it_scores(tmp_path, load_tool) -> None:  # noqa: ANN001
    """QA: a model trained on the whole CMU archive was scored on "cross" and "untouched", its own
    training people, without a word."""
    from posecast.engines.training.config import ModelConfig, TrainConfig
    from posecast.engines.training.train import Trainer

    tool = load_tool("evaluate")
    model = ModelConfig(window_frames=5, width=32, blocks=1, scale_width=16)
    sets = ["in_domain", "cross", "untouched"]
    for held_out, seen in (((), ["cross", "untouched"]), (("09", "13", "49"), ["untouched"])):
        trainer = Trainer(TrainConfig(mode="supervised", model=model, batch=4, threads=1,
                                      held_out_subjects=list(held_out)), tmp_path / f"run{len(held_out)}")  # fmt: skip
        trainer.trained_on = {"clips": {"bandai-namco": 40, "cmu": 13}}
        checkpoint = trainer.save_checkpoint()
        assert tool.trained_on_sets(f"{checkpoint}:flip", sets) == seen
    trainer.trained_on = {"clips": {"bandai-namco": 40}}
    assert tool.trained_on_sets(str(trainer.save_checkpoint()), sets) == []
    assert tool.trained_on_sets("supervised-long-w384", sets) == []


def test_the_tools_refuse_an_output_over_their_inputs(tmp_path, capsys, load_tool) -> None:  # noqa: ANN001
    """Tools QA: seed_spread's --markdown replaced the results it read, evaluate's --markdown a model
    file given as --model (a 30 MB checkpoint became a 576-byte table), knee_lag's --json the model."""
    results, model = tmp_path / "seeds.json", tmp_path / "victim.onnx"
    results.write_text("{}")
    model.write_bytes(b"a model")
    for tool, argv in (("seed_spread", [str(results), "--markdown", str(results)]),
                       ("evaluate", ["--model", f"v={model}", "--sets", "cross", "--json", str(tmp_path / "e.json"),
                                     "--markdown", str(model)]),
                       ("knee_lag", ["--model", str(model), "--json", str(model)])):  # fmt: skip
        code = run_reporting(lambda: load_tool(tool).main(argv), tool)  # noqa: B023 - called at once
        assert code == 2 and "writing it would destroy it" in capsys.readouterr().err, tool
    assert results.read_text() == "{}" and model.read_bytes() == b"a model"


@pytest.mark.parametrize(("argv", "said"), [
    (["--seed", "-1"], "a webcam draw's seed is a whole number, 0 or more, got '-1'"),  # (numpy's traceback)
    (["--calibration-s", "-1"], "--calibration-s takes seconds above 0, got -1"),  # (a slice from the clip's end)
])  # fmt: skip
def test_bad_values_are_refused_by_argparse(argv: list[str], said: str, capsys, load_tool) -> None:  # noqa: ANN001
    """Tools QA: bad values were tracebacks or silently wrong figures."""
    with pytest.raises(SystemExit) as exit_info:
        load_tool("evaluate").main(["--model", "flat", *argv, "--json", "x.json"])
    assert exit_info.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize(("tool", "argv", "said"), [
    ("subject_accuracy", ["--clips", "0"], "--clips: expected a count of clips, a whole number 1 or more, got '0'"),
    ("subject_accuracy", ["--cameras", "-2"], "--cameras: expected a count of webcams, a whole number 1 or more"),
    ("adapt_experiment", ["--seed", "-1"], "--seed: expected a seed, a whole number 0 or more, got '-1'"),
    ("bench_lift", ["--iters", "-1"], "--iters: expected a count of timed frames, a whole number 1 or more, got '-1'"),
    ("bench_ab", ["--rounds", "0"], "--rounds: expected a count of rounds, a whole number 1 or more"),
    ("scale_prior", ["--samples", "0"], "--samples: expected a count of samples, a whole number 1 or more"),
    ("adapt_experiment", ["--max-steps", "-5"], "--max-steps: expected a count of steps, a whole number 0 or more"),
])  # fmt: skip
def test_counts_are_whole_numbers_checked_as_the_arguments_are_parsed(tool: str, argv: list[str], said: str, capsys,
                                                                      load_tool) -> None:  # noqa: ANN001
    """Tools QA: subject_accuracy --clips 0 and bench_lift --iters -1 ended in tracebacks;
    a count is now refused in one line before any work."""
    with pytest.raises(SystemExit) as exit_info:
        load_tool(tool).main(argv)
    assert exit_info.value.code == 2 and said in capsys.readouterr().err


@pytest.mark.parametrize("tool", ["knee_lag", "subject_accuracy"])
def test_a_tool_run_without_the_data_says_so_in_one_line(tool: str, tmp_path) -> None:  # noqa: ANN001
    """Tools QA: on a fresh clone (no ../shared) four tools ended with ConfigError's traceback, exit 1."""
    import os
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[2] / "tools" / f"{tool}.py"
    env = {**os.environ, "POSECAST_SHARED": str(tmp_path / "no_shared")}
    done = subprocess.run([sys.executable, str(script), "--json", str(tmp_path / "out.json")], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(f"{tool}: error: training data "), done.stderr
