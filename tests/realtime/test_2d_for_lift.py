"""Recording 2D for ``posecast lift`` or training (issue 16.5): ``run --record`` + ``export
--lift-input`` writes the lift input; ``run --print json`` lines hold the same 2D, confidence and
(in their meta line) the intrinsics. Both round-trip through ``posecast lift`` to the 3D the live
run published."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from posecast.realtime.cli import main


def json_lines_to_lift_input(lines: list[dict], path: Path) -> Path:
    """What the README's snippet does: person 0's pose lines and the last meta line → the lift
    input (.npz: keypoints_2d (F, 17, 2), confidence (F, 17), intrinsics (4,), fps)."""
    meta = [line for line in lines if line["topic"] == "meta"][-1]
    frames = {line["frame_id"]: line for line in lines if line["topic"] == "pose" and line["person_id"] in (0, None)}
    count = max(frames) + 1
    keypoints, confidence = np.full((count, 17, 2), np.nan), np.zeros((count, 17))
    for frame_id, line in frames.items():
        if line["keypoints_px"] is not None:
            keypoints[frame_id], confidence[frame_id] = line["keypoints_px"], line["confidence"]
    np.savez(path, keypoints_2d=keypoints, confidence=confidence, intrinsics=np.array(meta["intrinsics"]),
             fps=meta["source_fps"])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def printed_run(media_dir: Path, pose_model_path: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """``posecast run --print json --record`` on the dance clip: the JSON lines and the take."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("print")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                     "--frames", "60", "--print", "json", "--record", str(folder / "take.posecast"),
                     "--model-asset", str(pose_model_path)])  # fmt: skip
    assert code == 0
    return [json.loads(line) for line in out.getvalue().splitlines()], folder / "take.posecast"


@pytest.mark.slow
def test_print_json_holds_2d_confidence_and_intrinsics(printed_run) -> None:  # noqa: ANN001
    lines, _ = printed_run
    assert lines[0]["topic"] == "meta"  # the camera first, then the poses
    meta = lines[0]
    assert meta["source_fps"] == 30.0 and meta["image_size"] == [576, 576] and meta["intrinsics_assumed"] is True
    fx, fy, cx, cy = meta["intrinsics"]
    assert fx == fy == pytest.approx(498.83, abs=0.01) and cx == cy == pytest.approx(287.5, abs=0.6)
    poses = [line for line in lines if line["topic"] == "pose"]
    assert [p["frame_id"] for p in poses] == list(range(60))
    tracked = [p for p in poses if p["tracking"] != "lost"]
    assert len(tracked) >= 55
    for p in tracked:
        assert np.array(p["keypoints_px"]).shape == (17, 2) and np.array(p["confidence"]).shape == (17,)


@pytest.mark.slow
def test_print_json_round_trips_through_lift(printed_run, tmp_path: Path) -> None:  # noqa: ANN001
    lines, _ = printed_run
    npz = json_lines_to_lift_input(lines, tmp_path / "printed_2d.npz")
    assert main(["lift", "--input", str(npz), "--output", str(tmp_path / "lifted.npz")]) == 0
    lifted = np.load(tmp_path / "lifted.npz")["joints_3d"]
    live = np.array([p["joints_m"] if p["joints_m"] is not None else np.full((17, 3), np.nan)
                     for p in lines if p["topic"] == "pose"])  # fmt: skip
    both = np.isfinite(live).all(axis=(1, 2)) & np.isfinite(lifted).all(axis=(1, 2))
    assert both.sum() >= 55
    error_m = np.linalg.norm(lifted[both] - live[both], axis=-1)
    # the same lifting stage on the same 2D (printed to 0.01 px): the same 3D, to the millimetre
    assert np.median(error_m) < 0.003 and error_m.max() < 0.02, (np.median(error_m), error_m.max())  # here 1.6, 8.9 mm


@pytest.mark.slow
def test_recorded_take_exports_the_same_2d(printed_run, tmp_path: Path) -> None:  # noqa: ANN001
    """``--record`` + ``export --lift-input`` (the README's way) gives the 2D the JSON lines show."""
    lines, take = printed_run
    exported = tmp_path / "take_2d.npz"
    assert main(["export", str(take), "--lift-input", str(exported)]) == 0
    from_take = np.load(exported)
    from_json = np.load(json_lines_to_lift_input(lines, tmp_path / "printed_2d.npz"))
    seen = from_json["confidence"].max(axis=1) > 0
    np.testing.assert_allclose(from_take["keypoints_2d"][seen], from_json["keypoints_2d"][seen], atol=0.006)
    np.testing.assert_allclose(from_take["intrinsics"], from_json["intrinsics"], atol=1e-4)
    assert float(from_take["fps"]) == pytest.approx(float(from_json["fps"]))
