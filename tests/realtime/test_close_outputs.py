"""``Pipeline.close()`` with outputs that are slow or stuck: it returns in a bounded time, naming
what it gave up, and a recorder that is merely slow still ends its take whole. The real pipeline,
the real recorder on a real file (its disk made slow or stuck); the 2D and 3D stages are fakes."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from posecast.realtime.pipeline import Pipeline
from posecast.realtime.recording.format import read_recording
from posecast.realtime.sinks.record import RecordOptions, RecordSink
from posecast.realtime.stages import Sink
from posecast.realtime.types import Frame, PoseFrame
from test_stages import FakeDetector, FakeLifting

IMAGE = np.zeros((48, 64, 3), np.uint8)
#: How long a test lets a close take before calling it hung: the bounds are 2 s and 2 + 2 s, and a
#: loaded machine must not fail the test (a hung close waited for ever before).
HUNG_S = 20.0


def _frames(count: int, on_media_time: bool = False) -> list[Frame]:
    """``count`` frames of a camera (live), or of a file read as fast as it decodes."""
    return [Frame(i, time.monotonic_ns(), IMAGE, 30.0, on_media_time=on_media_time) for i in range(count)]


class Disk:
    """The recorder's file behind a disk that takes ``delay_s`` a write, or none until ``gate`` opens."""

    def __init__(self, file: Any, delay_s: float = 0.0, stuck: bool = False) -> None:
        self.file, self.delay_s, self.gate = file, delay_s, threading.Event()
        if not stuck:
            self.gate.set()

    def write(self, data: bytes) -> int:
        self.gate.wait(60)
        time.sleep(self.delay_s)
        return self.file.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


class Blocked(Sink):
    """A user's output whose ``write`` blocks until ``gate`` opens (a network peer that stopped
    reading), or takes ``delay_s`` a frame."""

    name = "user-output"

    def __init__(self, gate: threading.Event, delay_s: float = 0.0, keeps_file_frames: bool = False) -> None:
        self.gate, self.delay_s, self.keeps_file_frames = gate, delay_s, keeps_file_frames
        self.written: list[int] = []

    def write(self, frame: PoseFrame) -> None:
        self.gate.wait(60)
        time.sleep(self.delay_s)
        self.written.append(frame.frame_id)


def _close_on_a_thread(pipeline: Pipeline) -> tuple[threading.Thread, list[float]]:
    took: list[float] = []

    def close() -> None:
        began = time.monotonic()
        pipeline.close()
        took.append(time.monotonic() - began)

    closer = threading.Thread(target=close, daemon=True)  # (a hang fails the test, not the session)
    closer.start()
    return closer, took


def _recorder(path: Path, **disk: Any) -> tuple[RecordSink, Pipeline, Disk]:
    sink = RecordSink(RecordOptions(path))
    pipeline = Pipeline(FakeDetector({}), FakeLifting(), [sink]).open()
    slow = Disk(sink._writer._file, **disk)  # the header and the first meta are on the disk already
    sink._writer._file = slow
    return sink, pipeline, slow


def test_a_recorder_stuck_on_its_disk_finishes_its_take_once_the_disk_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A live run's recorder whose disk stops answering for a while (a network share): the frames
    queued are given up after 2 s without progress, said, and the close waits for the recorder's
    own close, which finishes the take once the disk answers (review: a recorder given up after
    2 s more left the take a .part, and the command exited 0)."""
    take = tmp_path / "take.posecast"
    _, pipeline, disk = _recorder(take, stuck=True)
    opener = threading.Timer(4.0, disk.gate.set)  # the disk answers again
    try:
        for frame in _frames(5):
            pipeline.process(frame)
        opener.start()
        closer, took = _close_on_a_thread(pipeline)
        closer.join(HUNG_S)
    finally:
        disk.gate.set()
    assert took and 3.9 <= took[0] < HUNG_S, took  # until the disk answered
    given_up = int(re.search(r"output record wrote nothing for 2 s: (\d) queued frames not written", caplog.text)[1])
    recording = read_recording(take)  # finished: no .part
    assert recording.complete and recording.footer["dropped_frames"] == given_up
    assert len(recording.frames) + given_up == 5  # (the write under way when the disk stopped: kept)


def test_stuck_or_slow_outputs_of_live_frames_are_given_up_side_by_side(caplog: pytest.LogCaptureFixture) -> None:
    """Two outputs blocked in ``write`` and one taking 1 s a frame with 8 live frames queued held
    the close 2 s + 2 s + 8 s, one after the other (QA: a sink taking 1 s a frame held it 8 s).
    An output that keeps no file's every frame gets 2 s in all, and they all get them at once."""
    stuck, flowing = threading.Event(), threading.Event()
    flowing.set()
    slow = Blocked(flowing, delay_s=1.0)
    slow.name = "slow-output"
    outputs = [Blocked(stuck), Blocked(stuck), slow]
    pipeline = Pipeline(FakeDetector({}), FakeLifting(), outputs).open()
    try:
        for frame in _frames(8):
            pipeline.process(frame)
        closer, took = _close_on_a_thread(pipeline)
        closer.join(HUNG_S)
    finally:
        stuck.set()
    assert took, f"close still waited after {HUNG_S:g} s"
    assert took[0] < 6.0, took  # 2 s (and a loaded machine's margin), not 12
    assert "output slow-output did not finish its queue in 2 s" in caplog.text
    assert slow.dropped_frames >= 4  # of 8: about 2 written in the 2 s, one being written
    assert caplog.text.count("wrote nothing for 2 s: 7 queued frames not written") == 2


class LinesFile(Sink):
    """A user's output writing each frame's id to a file, ``delay_s`` a frame (a slow network file)."""

    name = "lines"

    def __init__(self, path: Path, delay_s: float) -> None:
        self.file, self.delay_s = path.open("w"), delay_s

    def write(self, frame: PoseFrame) -> None:
        time.sleep(self.delay_s)
        self.file.write(f"{frame.frame_id}\n")

    def close(self) -> None:
        self.file.close()


def test_a_slow_output_s_write_under_way_is_finished_before_its_close(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Review: an output that keeps no file's every frame, slower than the camera, had its close
    called on another thread at the 2 s mark while its write was under way: the file closed under
    that write, and its frame was neither written nor counted, nor was the error said."""
    lines = LinesFile(tmp_path / "ids.txt", delay_s=0.7)
    pipeline = Pipeline(FakeDetector({}), FakeLifting(), [lines]).open()
    for frame in _frames(8):
        pipeline.process(frame)
    pipeline.close()
    written = (tmp_path / "ids.txt").read_text().split()
    assert written == [str(i) for i in range(len(written))] and len(written) >= 2
    assert len(written) + lines.dropped_frames == 8, (written, lines.dropped_frames)
    assert "failed" not in caplog.text and "closed file" not in caplog.text


def test_a_slow_recorder_still_ends_its_take_whole(tmp_path: Path) -> None:
    """The contract's other half: a recorder that makes progress is waited for, longer than the
    2 s a stuck one gets (a slow disk, 0.2 s a record, 13 records: about 3 s)."""
    take = tmp_path / "take.posecast"
    sink, pipeline, _ = _recorder(take, delay_s=0.2)
    for frame in _frames(12):
        pipeline.process(frame)
    pipeline.close()
    recording = read_recording(take)
    assert recording.complete and [f.frame_id for f in recording.frames] == list(range(12))
    assert recording.footer["dropped_frames"] == 0 and sink.dropped_frames == 0


def test_a_close_from_another_thread_ends_the_wait_for_a_file_output(caplog: pytest.LogCaptureFixture) -> None:
    """A file's frames wait for a data output without a bound (a ``--print`` reader that pauses
    loses no line), in the run and in its close; from Python a ``close()`` on another thread
    ends the run's wait, and it ends a close's wait too (it waited with that close for ever)."""
    gate = threading.Event()
    output = Blocked(gate, keeps_file_frames=True)
    pipeline = Pipeline(FakeDetector({}), FakeLifting(), [output]).open()
    try:
        for frame in _frames(3, on_media_time=True):
            pipeline.process(frame)
        first, _ = _close_on_a_thread(pipeline)
        first.join(3.0)
        assert first.is_alive()  # a file's frames: waited for (as before)
        second, took = _close_on_a_thread(pipeline)
        second.join(HUNG_S)
        first.join(HUNG_S)
        ended = not first.is_alive() and not second.is_alive()
    finally:
        gate.set()
    assert ended, f"the closes still waited after {HUNG_S:g} s"
    assert took[0] < HUNG_S and output.dropped_frames == 2
    assert "output user-output wrote nothing for 2 s: 2 queued frames not written" in caplog.text


def test_an_output_left_to_finish_closing_says_its_late_error(caplog: pytest.LogCaptureFixture) -> None:
    """Review: an output whose close, beside a stuck write, was left to finish on its own thread
    lost the error that close raised later, without a word."""
    gate = threading.Event()

    class SlowToFail(Blocked):
        def close(self) -> None:
            time.sleep(3.0)
            raise OSError("no space left on the share")

    pipeline = Pipeline(FakeDetector({}), FakeLifting(), [SlowToFail(gate)]).open()
    try:
        for frame in _frames(3):
            pipeline.process(frame)
        pipeline.close()  # returns: the close is left to finish
        assert "output user-output did not finish closing in 2 s" in caplog.text
        deadline = time.monotonic() + HUNG_S
        while "failed as it finished closing" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        gate.set()
    assert "output user-output failed as it finished closing: no space left on the share" in caplog.text
