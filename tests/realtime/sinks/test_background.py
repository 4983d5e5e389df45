"""The threaded sink wrapper: a file's frames for an output that keeps them, and a stop."""

from __future__ import annotations

import threading

import numpy as np
from posecast.realtime.sinks.background import BackgroundSink
from posecast.realtime.stages import Sink
from posecast.realtime.types import PoseFrame


def _file_frame(i: int) -> PoseFrame:
    """Frame ``i`` of a file read as fast as it decodes (media time, not capture time)."""
    return PoseFrame(i, 10**12 + i, i * 33_333_333, (64, 48), [], image_bgr=np.zeros((48, 64, 3), np.uint8))


class GatedRecorder(Sink):
    name = "gated"
    keeps_file_frames = True
    queue_frames = 2

    def __init__(self) -> None:
        self.gate, self.entered, self.written = threading.Event(), threading.Event(), []

    def write(self, frame: PoseFrame) -> None:
        self.entered.set()
        self.gate.wait(30)
        self.written.append(frame.frame_id)


def test_after_a_stop_a_file_output_ends_at_the_frames_it_had_none_skipped() -> None:
    """Review: after a stop (Ctrl-C, or Pipeline.close() from another thread) a full queue took the
    next frame by dropping its oldest one, so a recording lost a frame from its middle."""
    sink = GatedRecorder()
    wrapper = BackgroundSink(sink)
    assert _file_frame(0).on_media_time
    wrapper.write(_file_frame(0))
    assert sink.entered.wait(10)  # frame 0 is being written; 1 and 2 fill the queue
    wrapper.write(_file_frame(1))
    wrapper.write(_file_frame(2))
    wrapper.hurry()
    wrapper.write(_file_frame(3))  # returns at once: the queue is full and the run was stopped
    sink.gate.set()
    wrapper.close()
    assert sink.written == [0, 1, 2] and sink.dropped_frames == 1


def test_a_file_output_that_holds_the_end_of_the_run_is_said(monkeypatch, caplog) -> None:  # noqa: ANN001
    """Docs QA: a ``--print`` reader that stopped reading held the end of a file run (its last
    frames queued) for as long as it liked with nothing said: the 10 s notice came only while
    frames waited for room. The end's wait says it too."""
    import time

    from posecast.realtime.sinks import background

    monkeypatch.setattr(background, "WAIT_WARNING_S", 0.5)
    sink = GatedRecorder()
    wrapper = BackgroundSink(sink)
    wrapper.write(_file_frame(0))
    assert sink.entered.wait(10)
    wrapper.write(_file_frame(1))  # queued: the end waits for it
    closer = threading.Thread(target=wrapper.close)
    closer.start()
    deadline = time.monotonic() + 10
    while "has taken no frame" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)
    sink.gate.set()
    closer.join(10)
    assert "output gated has taken no frame for 0 s: the run waits for it" in caplog.text
    assert not closer.is_alive() and sink.written == [0, 1]
