"""``posecast adapt`` says what it did and no more (QA): no training step in ``--minutes`` is an
error with nothing written (it exited 0 with an "adapted" copy of the start model); a folder of
footage skips what adapt itself wrote there (a model's ``.adapt.npz`` failed the next run, the 2D
``--save-2d`` wrote beside a video counted the footage twice); the report calls no figure better
(they are not accuracy: a recipe may train on the very figure)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from posecast.calibration import CameraIntrinsics
from posecast.engines import skeleton
from posecast.realtime.cli import main
from posecast.realtime.commands.adapt import format_report
from posecast.realtime.footage import expand_inputs


def test_a_folder_of_footage_skips_what_adapt_wrote_there(tmp_path: Path, media_dir: Path) -> None:
    shutil.copy(media_dir / "dance_576.mp4", tmp_path / "dance_576.mp4")
    for name in ("000_dance_576_2d.npz", "001_dance_576_2d.npz", "adapted.adapt.npz", "street_2d.npz"):
        (tmp_path / name).write_bytes(b"")
    found = [(path.name, kind) for path, kind in expand_inputs([tmp_path])]
    # the video, and a 2D file of the user's own that no video beside it explains
    assert found == [("dance_576.mp4", "video"), ("street_2d.npz", "npz")]



def test_the_2d_of_a_video_named_like_a_person_is_recognised(tmp_path: Path) -> None:
    """A video whose own name ends in _personN: its --save-2d file was taken for another person's
    2D of a video called ``clip`` and read again as footage (review)."""
    for name in ("clip_person2.mp4", "000_clip_person2_2d.npz", "take.posecast", "001_take_person3_2d.npz"):
        (tmp_path / name).write_bytes(b"")
    assert [(p.name, kind) for p, kind in expand_inputs([tmp_path])] == [("clip_person2.mp4", "video"),
                                                                          ("take.posecast", "recording")]  # fmt: skip


def test_no_step_in_the_minutes_is_an_error_and_writes_nothing(
    tmp_path: Path, media_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    pytest.importorskip("torch")
    landmarks = np.array(json.loads((media_dir / "squats_720x1280.mediapipe_full_2d.json").read_text()))
    footage = tmp_path / "squats_2d.npz"
    np.savez(footage, keypoints_2d=skeleton.from_mediapipe(landmarks)[..., :2], fps=5.0,
             intrinsics=CameraIntrinsics.from_hfov(60.0, 720, 1280).as_array())  # fmt: skip
    out = tmp_path / "adapted.onnx"
    # 0.06 s: no training step fits, and on a busy machine the footage teacher's lifting alone takes
    # longer (then said so: the full suite beside another job's CPU hogs met that one)
    assert main(["adapt", str(footage), "--output", str(out), "--minutes", "0.001"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(("posecast: error: no adaptation step fitted in --minutes 0.001",
                           "posecast: error: lifting the footage for the teacher took all of --minutes 0.001")), err
    assert "no model was written" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["squats_2d.npz"]


def test_the_report_calls_no_figure_better() -> None:
    pytest.importorskip("torch")  # the training extra
    from posecast.engines.training.adapt import AdaptReport

    report = AdaptReport(12, 30.0, 400, {"cycle_2d_error_pct": 21.7, "bone_cv_pct": 3.0},
                         {"cycle_2d_error_pct": 8.0, "bone_cv_pct": 2.0, "moved_mm": 40.0}, "a.onnx")  # fmt: skip
    text = format_report(report, 120)
    assert "better" not in text and "not accuracy" in text
    assert text.startswith("adapted 12 steps in 30 s on 120 frames")  # (QA: "in 0.0 min")
    assert "2D cycle error (lift, turn 90°, lift, turn back): 21.70 → 8.00 % of body size" in text
