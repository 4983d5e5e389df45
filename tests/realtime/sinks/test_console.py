"""``--print``: the console sink on fake frames and through the CLI on a real clip."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from posecast.realtime.cli import main
from posecast.realtime.sinks.console import ConsoleSink
from posecast.realtime.types import PersonPose, PoseFrame


def _frame(frame_id: int, people: list[PersonPose]) -> PoseFrame:
    return PoseFrame(frame_id, 0, frame_id * 33_000_000, (640, 480), people, {"keypoints2d": 21_000_000})


def _person(person_id: int) -> PersonPose:
    joints = np.zeros((17, 3)) + [0.1 * person_id, 0.0, 3.0]
    return PersonPose(person_id, "tracking", np.full((17, 2), 5.0, np.float32), np.full(17, 0.9, np.float32),
                      joints, joints - joints[0], joints[0])  # fmt: skip


def test_one_line_per_person_and_a_line_for_nobody() -> None:
    out = io.StringIO()
    sink = ConsoleSink("text", stream=out)
    sink.write(_frame(0, [_person(0), _person(1)]))
    sink.write(_frame(1, [_person(0), PersonPose.lost(1)]))
    sink.write(_frame(2, []))
    lines = out.getvalue().splitlines()
    assert len(lines) == 5
    assert lines[0].startswith("frame     0  person  0  tracking  root [+0.00 +0.00 +3.00] m")
    assert lines[3] == "frame     1  person  1  lost    "
    assert lines[4] == "frame     2  nobody     lost    "


def test_json_lines_carry_the_2d_and_the_joints() -> None:
    out = io.StringIO()
    ConsoleSink("json", stream=out).write(_frame(7, [_person(3)]))
    line = json.loads(out.getvalue())
    assert line["frame_id"] == 7 and line["person_id"] == 3 and line["tracking"] == "tracking"
    assert np.array(line["joints_m"]).shape == (17, 3) and np.array(line["keypoints_px"]).shape == (17, 2)
    assert line["confidence"] == [0.9] * 17 and line["latency_ms"] == {"keypoints2d": 21.0}


def test_run_prints_json_lines_and_stats(tmp_path: Path, media_dir: Path, pose_model_path: Path, capsys) -> None:  # noqa: ANN001
    stats = tmp_path / "stats.json"
    code = main(["run", "--source", str(media_dir / "dance_576.mp4"), "--headless", "--publish", "none",
                 "--frames", "12", "--print", "json", "--stats-json", str(stats),
                 "--model-asset", str(pose_model_path)])  # fmt: skip
    assert code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["topic"] == "meta" and len(lines[0]["intrinsics"]) == 4  # the camera, for posecast lift
    lines = [line for line in lines if line["topic"] == "pose"]
    assert [line["frame_id"] for line in lines] == list(range(12))
    assert all(len(line["joints_m"]) == 17 for line in lines if line["tracking"] != "lost")
    summary = json.loads(stats.read_text())["latency_ms"]
    assert {"keypoints2d", "window", "lift", "smooth", "publish", "after_keypoints2d"} <= set(summary)


def test_a_reader_that_stalls_loses_no_line_of_a_file(media_dir: Path, pose_model_path: Path) -> None:
    """``posecast run --print json | reader`` whose reader takes nothing for 10 s (longer than the
    run and the outputs' 2 s close timeout): a file has no live deadline, so the run waits for
    it and every line arrives (the last ~20 of 60 used to be lost, exit 0)."""
    command = [sys.executable, "-m", "posecast.realtime.cli", "run", "--source", str(media_dir / "dance_576.mp4"),
               "--headless", "--publish", "none", "--frames", "60", "--print", "json",
               "--model-asset", str(pose_model_path)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as run:
        time.sleep(10)
        out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err[-2000:]
    poses = [json.loads(line) for line in out.splitlines() if '"topic": "pose"' in line]
    assert [p["frame_id"] for p in poses] == list(range(60))
    assert "not written" not in err
