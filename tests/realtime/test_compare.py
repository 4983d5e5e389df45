"""posecast next to MediaPipe's world landmarks (issue 10.6): the figures on poses with known
answers, and the comparison tool on a few frames of a real clip (its JSON fields and picture)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
from posecast.engines import skeleton
from posecast.realtime import compare
from posecast.realtime.lifting import LiftingOptions
from scipy.spatial.transform import Rotation

J = skeleton.JOINT_INDEX


def _standing() -> np.ndarray:
    """A person standing straight, facing the camera (camera axes: x right, y down, z forward),
    metres, root at the origin: ``(17, 3)``."""
    xy = {"pelvis": (0, 0), "r_hip": (-0.1, 0), "r_knee": (-0.1, 0.45), "r_ankle": (-0.1, 0.9), "l_hip": (0.1, 0),
          "l_knee": (0.1, 0.45), "l_ankle": (0.1, 0.9), "spine": (0, -0.25), "thorax": (0, -0.5), "neck": (0, -0.6),
          "head": (0, -0.7), "l_shoulder": (0.18, -0.5), "l_elbow": (0.2, -0.2), "l_wrist": (0.2, 0.05),
          "r_shoulder": (-0.18, -0.5), "r_elbow": (-0.2, -0.2), "r_wrist": (-0.2, 0.05)}  # fmt: skip
    return np.array([[*xy[name], 0.0] for name in skeleton.JOINT_NAMES])


def _bend_left_knee(pose: np.ndarray, degrees: float, towards_camera: bool) -> np.ndarray:
    """The left knee moved off the hip–ankle line so the leg bends by ``degrees``."""
    out = pose.copy()
    half = math.radians(degrees) / 2
    offset = 0.45 * math.tan(half)  # thigh and shin each turned by half the bend
    out[J["l_knee"], 2] = -offset if towards_camera else offset
    return out


def test_figures_of_a_standing_person() -> None:
    pose = _standing()
    frames = np.repeat(pose[None], 5, axis=0)
    assert compare.skeleton_figures(frames, 30.0, np.ones((5, 2), bool))["bone_length_cv"] == 0.0
    assert compare.jitter_m_s2(frames + np.arange(5)[:, None, None] * 0.01, 30.0) == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(compare.torso_tilt_deg(frames), 0.0, atol=1e-9)
    np.testing.assert_allclose(compare.knee_bend_deg(frames), 0.0, atol=1e-6)
    assert (compare.knee_backward_deg(frames) == 0).all()
    assert compare.shoulder_depth_gap_m(frames).max() == 0.0
    standing = np.ones((5, 2), bool)
    np.testing.assert_allclose(compare.torso_lean_deg(frames, standing), 0.0, atol=1e-6)
    assert np.isnan(compare.torso_lean_deg(frames, np.zeros((5, 2), bool))).all()


def test_turned_tilted_and_bent() -> None:
    pose = _standing()
    # turned 30° about the vertical: the shoulders (0.36 m apart) differ in depth by 0.18 m
    turned = Rotation.from_euler("y", 30, degrees=True).apply(pose)
    assert compare.shoulder_depth_gap_m(turned[None])[0] == pytest.approx(0.36 * math.sin(math.radians(30)))
    assert compare.shoulder_turn_deg(np.stack([pose, turned, 2 * turned])) == pytest.approx([0.0, 30.0, 30.0])
    # leaning 20° towards the camera (about x): tilt 20° to the image's up; the body's own lean 0°
    leaning = Rotation.from_euler("x", 20, degrees=True).apply(pose)
    assert compare.torso_tilt_deg(leaning[None])[0] == pytest.approx(20.0)
    assert compare.torso_lean_deg(leaning[None], np.ones((1, 2), bool))[0] == pytest.approx(0.0, abs=1e-6)
    # a left knee bent 40° forwards is a bend, not a backward knee; bent backwards it is both
    forwards, backwards = _bend_left_knee(pose, 40, True), _bend_left_knee(pose, 40, False)
    assert compare.knee_bend_deg(forwards[None])[0] == pytest.approx([40.0, 0.0], abs=1e-6)
    assert compare.knee_backward_deg(forwards[None])[0] == pytest.approx([0.0, 0.0])
    assert compare.knee_backward_deg(backwards[None])[0] == pytest.approx([40.0, 0.0], abs=1e-6)
    # a turn of 90° in one frame at 30 fps: 2700°/s
    assert compare.torso_turn_speed_deg_s(np.stack([pose, Rotation.from_euler("y", 90, degrees=True).apply(pose)]),
                                          30.0) == pytest.approx([2700.0])  # fmt: skip


def test_turn_speed_on_both_sides_of_a_frame_without_a_pose() -> None:
    """A steady turn of 10° a frame at 30 fps with one unposed frame: 300 °/s before and after
    it (the yaw is not unwrapped across the gap, which would lose every later frame)."""
    pose = _standing()
    turning = [Rotation.from_euler("y", 10 * k, degrees=True).apply(pose) for k in range(6)]
    turning[2] = np.full_like(pose, np.nan)
    speed = compare.turn_speed_per_frame(np.stack(turning), 30.0)
    assert np.isnan(speed[[0, 2, 3]]).all()
    assert speed[[1, 4, 5]] == pytest.approx([300.0, 300.0, 300.0])
    # across ±180° the short way round: 170° to −170° is a 20° step
    back = [Rotation.from_euler("y", angle, degrees=True).apply(pose) for angle in (170, -170)]
    assert compare.torso_turn_speed_deg_s(np.stack(back), 30.0) == pytest.approx([600.0])


def test_median_difference_with_its_block_bootstrap_interval() -> None:
    rng = np.random.default_rng(1)
    b = rng.normal(10.0, 3.0, 300)
    shifted = compare.median_difference(b + 2.0, b, 30.0)
    assert shifted["difference"] == pytest.approx(2.0) and shifted["interval"] == pytest.approx([2.0, 2.0])
    # two draws of one distribution: an interval around 0; one that differs by 4 spreads: above 0
    same = compare.median_difference(rng.normal(10.0, 3.0, 300), b, 30.0)
    assert same["interval"][0] < 0.0 < same["interval"][1]
    apart = compare.median_difference(rng.normal(22.0, 3.0, 300), b, 30.0)
    assert apart["interval"][0] > 0.0 and apart["difference"] == pytest.approx(12.0, abs=1.5)
    # per-leg values pool both legs; a figure no frame measures has no difference
    legs = np.stack([b, b + 4.0], axis=1)
    pooled = float(np.median(legs) - np.median(b))
    assert compare.median_difference(legs, b, 30.0)["difference"] == pytest.approx(pooled, abs=0.01)
    assert compare.median_difference(np.full(300, np.nan), b, 30.0)["difference"] is None
    # measured in one frame of 300: most draws of 1 s blocks miss it, so no interval is stated
    once = np.full(300, np.nan)
    once[150] = 5.0
    lonely = compare.median_difference(once, b, 30.0)
    assert lonely["difference"] == pytest.approx(5.0 - np.median(b), abs=0.01) and lonely["interval"] is None


def test_p_mpjpe_ignores_rotation_scale_and_translation() -> None:
    pose = _standing()
    moved = 1.7 * Rotation.from_euler("xyz", [20, -50, 10], degrees=True).apply(pose) + [0.3, -0.2, 2.0]
    bent = _bend_left_knee(pose, 60, True)
    errors = compare.p_mpjpe_m(np.stack([moved, bent, np.full((17, 3), np.nan)]), np.stack([pose, pose, pose]))
    assert errors[0] == pytest.approx(0.0, abs=1e-9)
    # one joint moved by d: the best alignment's squared error is at most d², its mean distance at most d / √17
    assert 0.0 < errors[1] <= 0.45 * math.tan(math.radians(30)) / math.sqrt(17)
    assert np.isnan(errors[2])


def test_standing_legs_from_the_2d() -> None:
    pose = _standing()
    pixels = 500 + 400 * pose[:, :2]  # the straight pose seen from the front
    bent = pixels.copy()
    bent[J["r_knee"], 0] += 60  # the right leg visibly bent in the image
    short = pixels.copy()
    short[J["r_knee"], 1] -= 40  # ... or much shorter than it gets (foreshortened)
    short[J["r_ankle"], 1] -= 80
    confidence = np.ones((4, 17))
    confidence[3, J["l_ankle"]] = 0.2  # the left ankle barely seen
    legs = compare.standing_legs(np.stack([pixels, bent, short, pixels]), confidence)
    assert legs.tolist() == [[True, True], [True, False], [True, False], [False, True]]


def test_upper_body_change_separates_turning_and_shrinking_from_shape() -> None:
    whole = np.repeat(_standing()[None], 4, axis=0)
    turned = 0.8 * Rotation.from_euler("y", 30, degrees=True).apply(whole.reshape(-1, 3)).reshape(whole.shape)
    change = compare.upper_body_change(whole, turned)
    assert change["frames"] == 4 and change["rotation_deg"] == pytest.approx(30.0, abs=0.1)
    assert change["size_ratio"] == pytest.approx(0.8, abs=1e-3) and change["p_mpjpe_mm"] == pytest.approx(0.0, abs=0.1)
    assert change["distance_mm"] > 50.0
    # the legs do not count: a pose whose legs alone differ has not changed
    kicked = whole.copy()
    kicked[:, J["l_ankle"]] += [0.0, -0.5, -0.4]
    assert compare.upper_body_change(whole, kicked)["distance_mm"] == 0.0
    assert compare.upper_body_change(whole, np.full_like(whole, np.nan))["frames"] == 0


def test_a_cropped_source_cuts_each_frame_at_a_row(media_dir: Path) -> None:
    from posecast.realtime.sources import open_source

    with compare.CroppedSource(open_source(str(media_dir / "squats_720x1280.mp4")), 600) as source:
        first = source.read()
        assert first.image_bgr.shape == (600, 720, 3) and first.image_bgr.flags["C_CONTIGUOUS"]
        assert source.source_fps == 5.0
    with pytest.raises(ValueError, match="at least 1"):
        compare.CroppedSource(open_source(str(media_dir / "squats_720x1280.mp4")), 0)


@pytest.mark.slow
def test_the_tool_writes_every_figure(tmp_path: Path, media_dir: Path, pose_model_path: Path, load_tool) -> None:  # noqa: ANN001
    tool = load_tool("compare_mediapipe")
    images = tmp_path / "images" if importlib.util.find_spec("matplotlib") else None
    out = tmp_path / "compare.json"
    args = [str(media_dir / "squats_720x1280.mp4"), "--frames", "12", "--json", str(out), "--legs-cut"]
    assert tool.main(args + (["--images", str(images)] if images else [])) == 0
    result = json.loads(out.read_text())
    (model,) = result["models"]
    figures = result["models"][model]["squats_720x1280.mp4"]
    assert figures["frames"] == 12 and 0 < figures["frames_compared"] <= 12 and figures["fps"] == 5.0
    keys = {
        "bone_length_cv",
        "jitter_m_s2",
        "torso_tilt_deg",
        "torso_lean_deg",
        "shoulder_depth_gap_cm",
        "shoulder_turn_deg",
        "standing_knee_bend_deg",
        "knee_backward_over_10_deg_pct",
        "torso_turn_speed_deg_s",
    }
    for name in ("posecast", "mediapipe"):
        assert set(figures[name]) == keys
        for key in ("torso_tilt_deg", "shoulder_depth_gap_cm", "shoulder_turn_deg", "torso_turn_speed_deg_s"):
            assert set(figures[name][key]) == {"median", "p90", "frames"} and figures[name][key]["frames"] > 0
        assert "over_30_deg_pct" in figures[name]["standing_knee_bend_deg"]
    medians = keys - {"bone_length_cv", "jitter_m_s2", "knee_backward_over_10_deg_pct"}
    assert set(figures["posecast_minus_mediapipe"]) == medians
    turn = figures["posecast_minus_mediapipe"]["torso_turn_speed_deg_s"]
    assert turn["difference"] == pytest.approx(
        figures["posecast"]["torso_turn_speed_deg_s"]["median"]
        - figures["mediapipe"]["torso_turn_speed_deg_s"]["median"],
        abs=0.02,
    )
    assert turn["interval"][0] <= turn["interval"][1]
    assert set(figures["p_mpjpe_mm"]) == {"posecast", "flat"}
    legs_cut = figures["legs_cut"]
    assert 400 < legs_cut["bottom_px"] < 1280  # the hips' row, in a 1280-row portrait clip
    # the cut frames keep the camera: its optical centre is the whole frame's, not the cut image's
    assert legs_cut["intrinsics_k"][2:] == [360.0, 640.0]
    for name in ("posecast", "mediapipe"):
        assert legs_cut[name]["frames"] > 0 and 0.0 <= legs_cut[name]["rotation_deg"] < 90.0
        assert 0.5 < legs_cut[name]["size_ratio"] < 2.0
    assert figures["p_mpjpe_mm"]["posecast"]["frames"] == figures["frames_compared"]
    if images:
        png = images / "compare_mediapipe_squats_720x1280.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tool.main([str(tmp_path / "missing.mp4"), "--json", str(out)]) == 2


@pytest.mark.slow
def test_the_tool_writes_into_the_current_folder_unless_told(
    tmp_path: Path, media_dir: Path, pose_model_path: Path, load_tool, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    """Its default output is ./compare_mediapipe.json: the README's command once replaced the
    committed eval/compare_mediapipe.json (every shipped model) with one model's figures."""
    tool = load_tool("compare_mediapipe")
    committed = Path(tool.__file__).resolve().parents[1] / "eval" / "compare_mediapipe.json"
    before = committed.read_bytes() if committed.is_file() else None
    monkeypatch.chdir(tmp_path)
    assert tool.main([str(media_dir / "squats_720x1280.mp4"), "--frames", "2"]) == 0
    written = json.loads((tmp_path / "compare_mediapipe.json").read_text())
    assert list(written["models"]) == [tool.DEFAULT_MODEL_NAME]
    assert (committed.read_bytes() if committed.is_file() else None) == before


@pytest.mark.slow
def test_the_tool_filters_with_one_euro_when_asked(tmp_path: Path, media_dir: Path, pose_model_path: Path,
                                                   load_tool, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    """``--one-euro HZ,BETA``: the published joints filtered as ``posecast run --one-euro`` does
    (steadier: less jitter on the same frames), the entry named with it; a malformed one is one line."""
    tool = load_tool("compare_mediapipe")
    clip = str(media_dir / "dance_576.mp4")
    assert tool.main([clip, "--frames", "30", "--json", str(tmp_path / "raw.json")]) == 0
    assert tool.main([clip, "--frames", "30", "--one-euro", "0.5,4", "--json", str(tmp_path / "filtered.json")]) == 0
    (raw,) = json.loads((tmp_path / "raw.json").read_text())["models"].values()
    filtered = json.loads((tmp_path / "filtered.json").read_text())["models"]
    assert list(filtered) == [f"{tool.DEFAULT_MODEL_NAME} + one-euro 0.5,4"]
    jitter = [entry["dance_576.mp4"]["posecast"]["jitter_m_s2"] for entry in (raw, *filtered.values())]
    assert jitter[1] < 0.8 * jitter[0]
    capsys.readouterr()  # each clip's figures, printed as they come
    for bad in ("1.5", "a,b", "0,1"):
        assert tool.main([clip, "--one-euro", bad, "--json", str(tmp_path / "bad.json")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("compare_mediapipe: error: ") and "\n" not in err, err
    assert not (tmp_path / "bad.json").exists()


@pytest.mark.slow
def test_the_lifting_stage_mirrors_backward_knees_on_a_real_clip(media_dir: Path, pose_model_path: Path) -> None:
    """The dance clip's raised right leg (frames 75–76) is nearly straight in 2D and
    ``supervised-upright-w384`` lifts it bent backwards (the crouch default only 7°); the lifting
    stage's knee limit (on by default) mirrors it, and changes nothing else."""
    clip, model = media_dir / "dance_576.mp4", "supervised-upright-w384"
    off = compare.collect(clip, model, max_frames=80, keep_images=0,
                          lifting=LiftingOptions(max_knee_backward_deg=None))  # fmt: skip
    on = compare.collect(clip, model, max_frames=80, keep_images=0)
    backward_off, backward_on = compare.knee_backward_deg(off.posecast_m), compare.knee_backward_deg(on.posecast_m)
    assert backward_off.max() > 10, "this model no longer bends this knee backwards: pick another case"
    assert backward_on.max() <= 5.0 + 1e-6
    changed = np.abs(on.posecast_m - off.posecast_m).max(axis=2) > 1e-9
    assert changed.any() and set(np.flatnonzero(changed.any(axis=0))) <= {J["l_knee"], J["r_knee"]}
    np.testing.assert_array_equal(on.mediapipe_m, off.mediapipe_m)


@pytest.mark.slow
def test_mediapipe_s_skeleton_is_compared_in_the_camera_s_axes(media_dir: Path, pose_model_path: Path,
                                                                tmp_path: Path) -> None:  # fmt: skip
    """The same picture at the left and the right of a wide image is a person turned by the two
    viewing rays' angle (42 deg here). MediaPipe's world landmarks are in the person's own view
    (the same landmarks for both); turned into the camera's axes, as posecast's are, its shoulder
    line turns with the ray as posecast's does (before 2026-12-06 it stayed put)."""
    import cv2

    capture = cv2.VideoCapture(str(media_dir / "squats_720x1280.mp4"))
    frames = [image for ok, image in iter(capture.read, (False, None)) if ok][:20]
    capture.release()
    turns = {}
    for name, left in (("left", 0), ("right", 1440)):
        path = tmp_path / f"{name}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (2160, 1280))
        for image in frames:
            canvas = np.zeros((1280, 2160, 3), np.uint8)
            canvas[:, left : left + 720] = image
            writer.write(canvas)
        writer.release()
        poses = compare.collect(path, keep_images=0)
        figures = compare.clip_figures(poses)
        turns[name] = tuple(figures[who]["shoulder_turn_deg"]["median"] for who in ("posecast", "mediapipe"))
    posecast_moved, mediapipe_moved = (abs(turns["left"][i] - turns["right"][i]) for i in (0, 1))
    assert posecast_moved > 25.0 and mediapipe_moved > 25.0, turns
    assert abs(posecast_moved - mediapipe_moved) < 10.0, turns
