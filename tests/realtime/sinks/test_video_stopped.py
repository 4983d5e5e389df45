"""A stop signal (Ctrl-C, SIGTERM) while the output video is being finished, after the last frame:
the frames still queued are dropped, the file is finished with those written and renamed into
place, no temporary file is left, and the signal is raised again. Before, the wait for the
encoder was cut short: the video was lost, its hidden temporary file left, and the process could
abort in the encoder's teardown."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from posecast.realtime.sinks.live_view import LiveView
from posecast.realtime.sinks.video import VideoSink
from posecast.realtime.types import PoseFrame, StreamMeta
from test_video import read_video


@pytest.fixture(autouse=True)
def ctrl_c_raises() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt here, as in a terminal: a run started in the background
    (CI's ``nohup``, ``cmd &``) ignores it, and this process would never see the stop."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class SlowEncoder(LiveView):
    """The real view and encoder, 40 ms a frame: the queue is still full when the run ends."""

    def process(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        time.sleep(0.04)
        return super().process(*args, **kwargs)


def _file_frame(i: int) -> PoseFrame:  # a file read as fast as it decodes: every frame is kept
    return PoseFrame(i, 10**12 + i, i * 40_000_000, (64, 48), [], image_bgr=np.full((48, 64, 3), i, np.uint8))


@pytest.mark.parametrize("name", ["v.webm", "v.mp4"])
def test_a_stop_while_the_video_is_finished_keeps_the_video(name: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    if name.endswith(".mp4"):
        pytest.importorskip("av")
    monkeypatch.setattr("posecast.realtime.sinks.video.LiveView", SlowEncoder)
    sink = VideoSink(tmp_path / name)
    sink.open(StreamMeta(source_fps=25.0))
    for i in range(30):
        sink.write(_file_frame(i))  # 30 queued, about 1.2 s of encoding
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            sink.close()
    finally:
        timer.cancel()
    assert 0 < sink.frames_written < 30 and sink.frames_written + sink.dropped_frames == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # finished, in place; no temporary file
    fps, frames, _ = read_video(tmp_path / name)
    assert fps == 25.0 and frames == sink.frames_written


class VerySlowEncoder(LiveView):
    def process(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        time.sleep(1.5)
        return super().process(*args, **kwargs)


def test_stopped_twice_it_gives_up_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Called from code (no CLI handler logging the second signal), a second stop is meant: close
    gives up waiting for an encoder that may hang, and says so."""
    monkeypatch.setattr("posecast.realtime.sinks.video.LiveView", VerySlowEncoder)
    sink = VideoSink(tmp_path / "v.webm")
    sink.open(StreamMeta(source_fps=25.0))
    for i in range(10):
        sink.write(_file_frame(i))
    timers = [threading.Timer(t, os.kill, (os.getpid(), signal.SIGINT)) for t in (0.2, 0.6)]  # (not merged)
    for timer in timers:
        timer.start()
    began = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            sink.close()
    finally:
        for timer in timers:
            timer.cancel()
    assert time.monotonic() - began < 1.4  # did not wait for the frame being encoded (1.5 s a frame)
    assert "stopped again while it was being finished: not waited for" in caplog.text
    sink.close()  # a later close (run_pipeline's clean-up) returns at once
    assert sink._done.wait(10)  # (the encoder thread ends on its own: nothing left running after the test)
