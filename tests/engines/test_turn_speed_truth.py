"""``tools/turn_speed_truth.py``: the published torso's turn speed against the truth, on a real
mocap walk (CMU 08_04, in the repository) filmed with MediaPipe-shaped noise, through the real
lifter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from posecast.engines.training.data.dataset import Clip
from posecast.engines.training.evaluate import build_eval_clips


def test_a_filter_slows_the_noisy_turn_and_the_truth_stays(load_tool, walk_joints: np.ndarray) -> None:  # noqa: ANN001
    tool = load_tool("turn_speed_truth")
    clips = build_eval_clips([Clip("08_04", walk_joints, 30.0, subject="08", source="cmu")], noisy=True, seed=3)
    raw = tool.scores(clips, 1, "supervised-current-w384", None)
    filtered = tool.scores(clips, 1, "supervised-current-w384", tool.FILTERS["avatar filter (0.5 Hz, beta 4)"])
    assert raw["true_turn_speed_deg_s"] == filtered["true_turn_speed_deg_s"] > 0  # the same frames' truth
    assert raw["frames"] == filtered["frames"] > 100
    # the noise turns the published torso faster than the person; the filter takes some of it away
    assert raw["turn_speed_deg_s"] > raw["true_turn_speed_deg_s"]
    assert filtered["turn_speed_deg_s"] < raw["turn_speed_deg_s"]
    slow = tool.scores(clips, 6, "supervised-current-w384", None)  # 5 fps: a sixth of the frames
    assert raw["frames"] // 7 < slow["frames"] < raw["frames"] // 5


@pytest.mark.parametrize("rates", ["7", "30,abc", "0"])
def test_a_rate_that_does_not_divide_the_clips_is_one_line(load_tool, rates: str, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    tool = load_tool("turn_speed_truth")
    assert tool.main(["--fps", rates, "--json", str(tmp_path / "out.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--fps takes" in err and "\n" not in err and not (tmp_path / "out.json").exists()
