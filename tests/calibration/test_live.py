import itertools
import re

import numpy as np
import pytest
from calib_synthetic import BOARD, SQUARE_M, TRUE_K
from posecast.calibration.board import BoardSpec
from posecast.calibration.errors import CalibrationError
from posecast.calibration.live import LiveCollector, LiveOptions, collect_views, draw_overlay

CHESSBOARD = BoardSpec(*BOARD, SQUARE_M)


def held_still(board_views, repeats=2):
    """Frames as a camera delivers them while the user holds each pose for a moment."""
    for image, _, _ in board_views:
        for _ in range(repeats):
            yield image


def test_collects_views_until_enough_and_calibrates(board_views):
    collector = LiveCollector(CHESSBOARD, LiveOptions(target_views=10, min_coverage=0.75))
    collect_views(held_still(board_views), collector)
    assert collector.done and len(collector.views) == 10
    assert collector.coverage >= 0.75 and collector.hint() == "enough views"
    result = collector.calibrate()
    assert result.intrinsics.fx == pytest.approx(TRUE_K[0, 0], rel=0.02)
    assert "live" in result.intrinsics.source


def test_moving_and_repeated_boards_are_not_taken(board_views):
    collector = LiveCollector(CHESSBOARD, LiveOptions(target_views=10))
    statuses = [collector.process(image) for image, _, _ in board_views[:5]]  # a new pose every frame
    assert [s.message for s in statuses] == ["hold the board still"] * 5 and not collector.views
    image = board_views[0][0]
    statuses = [collector.process(image) for _ in range(4)]
    assert [s.accepted for s in statuses] == [False, True, False, False]
    assert statuses[-1].message == "move or tilt the board to a new pose" and statuses[-1].views == 1
    assert collector.hint().startswith("move the board towards:")


def test_empty_frames_and_overlay(board_views):
    collector = LiveCollector(CHESSBOARD)
    status = collector.process(np.zeros((480, 640, 3), np.uint8))
    assert status.detection is None and status.message.startswith("image empty")
    image = board_views[0][0]
    collector.process(image)
    status = collector.process(image)
    overlay = draw_overlay(image, collector, status)
    assert overlay.shape == (480, 640, 3) and overlay.dtype == np.uint8
    assert not np.array_equal(overlay[..., 0], image)  # corners, tint and text were drawn
    with pytest.raises(CalibrationError, match=r"frame size changed from \(640, 480\) to \(320, 240\)"):
        collector.process(np.zeros((240, 320), np.uint8))


def test_max_frames_stops_and_too_few_views_is_an_error(board_views):
    collector = LiveCollector(CHESSBOARD, LiveOptions(target_views=10, max_frames=6))
    collect_views(held_still(board_views), collector)
    assert len(collector.views) == 3
    with pytest.raises(CalibrationError, match="too few good views: found 3, need at least 10"):
        collector.calibrate()


class FakeCapture:
    """Stands in for cv2.VideoCapture: loops over the synthetic views, each held for two frames."""

    frames: list = []

    def __init__(self, index):
        self.index = index
        self._frames = itertools.cycle(self.frames)

    def isOpened(self):
        return self.index == 0

    def set(self, prop, value):
        return True

    def read(self):
        frame = next(self._frames, None)
        return (frame is not None), frame

    def release(self):
        pass


def test_cli_live_calibration_headless(board_views, monkeypatch, tmp_path, caplog):
    import cv2
    import yaml
    from posecast.realtime.cli import main

    FakeCapture.frames = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in held_still(board_views)]
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    output = tmp_path / "camera.yaml"
    args = ["calibrate", "camera", "--camera", "0", "--board", "9x6", "--square", "0.03", "--views", "10"]
    with caplog.at_level("INFO", logger="posecast.calibration"):
        assert main([*args, "--no-window", "-o", str(output)]) == 0
    data = yaml.safe_load(output.read_text())
    assert data["fx"] == pytest.approx(TRUE_K[0, 0], rel=0.01) and "live, 10/10 views" in data["source"]
    assert "view 10/10 taken" in caplog.text
    assert main([*args[:3], "1", *args[4:], "--no-window", "-o", str(output)]) == 2  # no camera 1


class StoppingCapture(FakeCapture):
    """A camera that delivers ``count`` frames, then ``stop``: Ctrl-C, or no more frames."""

    count, stop = 0, "camera"

    def __init__(self, index):
        super().__init__(index)
        self._left = self.count

    def read(self):
        self._left -= 1
        if self._left >= 0:
            return super().read()
        if self.stop == "ctrl-c":
            raise KeyboardInterrupt
        return False, None


@pytest.mark.parametrize("stop", ["ctrl-c", "camera"])
def test_a_live_calibration_stopped_without_a_window_calibrates_from_the_views_taken(
    board_views, monkeypatch, tmp_path, caplog, stop
):
    """QA: without a window, Ctrl-C (the only way to end early) and a camera that stopped
    delivering frames both threw away 11 good views (exit 130, exit 2). With enough views they now
    calibrate, as ``q`` in the window does; with too few, Ctrl-C still cancels and the camera's
    end is one line saying how many were taken."""
    import cv2
    import yaml
    from posecast.realtime.cli import main

    FakeCapture.frames = [cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) for f in held_still(board_views)]
    StoppingCapture.stop, StoppingCapture.count = stop, 2 * 15  # each pose held for two frames: all 15 shown
    monkeypatch.setattr(cv2, "VideoCapture", StoppingCapture)
    output = tmp_path / "camera.yaml"
    args = ["calibrate", "camera", "--camera", "0", "--board", "9x6", "--square", "0.03", "--no-window", "-o",
            str(output)]  # fmt: skip
    with caplog.at_level("INFO", logger="posecast.calibration"):
        assert main(args) == 0
    taken = int(re.search(r"calibrating from the (\d+) views taken", caplog.text).group(1))
    assert 10 <= taken < 15 and f"live, {taken}/{taken} views" in yaml.safe_load(output.read_text())["source"]
    output.unlink()
    StoppingCapture.count = 2 * 5
    code = main(args)
    assert code == (130 if stop == "ctrl-c" else 2) and not output.exists()


#: The live calibration command on a camera showing the synthetic views (each for two frames, then
#: nothing new), its fit slowed to 3 s: a child process, for real stop signals.
_LIVE_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[2])
import cv2, numpy as np
from calib_synthetic import random_poses, render, true_camera
camera = true_camera()
frames = [cv2.cvtColor(render(camera, r, t, seed=i), cv2.COLOR_GRAY2BGR)
          for i, (r, t) in enumerate(random_poses(camera, 15)) for _ in range(2)]
class Camera:
    def __init__(self, index): self.index, self.read_count = index, 0
    def isOpened(self): return self.index == 0
    def set(self, *args): return True
    def release(self): pass
    def read(self):
        self.read_count += 1
        time.sleep(1 / 30)  # a camera's pace: read at once, a busy machine's loop skipped views (and hung the test)
        if self.read_count > len(frames):
            return True, np.zeros_like(frames[0])
        return True, frames[self.read_count - 1]
cv2.VideoCapture = Camera
import posecast.calibration.live as live
fit = live.calibrate_views
def slow_fit(*args, **kwargs):
    print("fit started", flush=True)
    time.sleep(3)
    return fit(*args, **kwargs)
live.calibrate_views = slow_fit
from posecast.realtime.cli import main
sys.exit(main(["calibrate", "camera", "--camera", "0", "--board", "9x6", "--square", "0.03", "--no-window",
               "-o", sys.argv[1]]))
"""


@pytest.mark.parametrize(("signals", "code"), [(["SIGINT"], 0), (["SIGINT", "SIGINT"], 130), (["SIGTERM"], 143)])
def test_a_live_calibration_stopped_by_real_signals(tmp_path, signals, code):
    """Review: after the Ctrl-C that calibrates from the views taken, a second Ctrl-C (the log says
    it cancels) was only logged and the fit saved a calibration, exit 0; SIGTERM (``timeout``, a
    service stop) calibrated as Ctrl-C does. Now Ctrl-C once calibrates, twice cancels (130),
    and SIGTERM ends the run (143); neither of the two leaves a file."""
    import signal
    import subprocess
    import sys
    import threading
    from pathlib import Path

    script, output = tmp_path / "child.py", tmp_path / "camera.yaml"
    script.write_text(_LIVE_CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(output), str(Path(__file__).parent)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    watchdog = threading.Timer(120, child.kill)  # a child that never says enough views fails the test, not hangs it
    watchdog.start()
    try:
        said = []
        for line in child.stdout:  # every pose shown: 10 views or more taken
            said.append(line)
            if "move and tilt the board" in line and int(re.search(r"view (\d+)/", line).group(1)) >= 11:
                break
        child.send_signal(getattr(signal, signals[0]))
        if len(signals) > 1:
            for line in child.stdout:
                said.append(line)
                if "fit started" in line:
                    break
            child.send_signal(getattr(signal, signals[1]))
        said.append(child.communicate(timeout=60)[0])
    finally:
        watchdog.cancel()
        child.kill()
    assert child.returncode == code, "".join(said)[-3000:]
    assert output.exists() == (code == 0)
