"""One pass of frames through posecast or through the baseline, recorded frame by frame.

A *pass* is one :class:`~posecast.realtime.benchmark.clip.ClipSource` run to its end through a
runner (the serial :class:`~posecast.realtime.pipeline.Pipeline` or the
:class:`~posecast.realtime.threaded.ThreadedPipeline`) or through
:class:`~posecast.realtime.benchmark.baseline.MediaPipeAlone`. Its :class:`PassLog` keeps,
per frame, the ids and clocks and every stage's nanoseconds, plus the pass's wall and CPU time
and the drops at each hand-off.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import zmq

from ..pipeline import Pipeline
from ..threaded import ThreadedPipeline
from ..types import PoseFrame
from .baseline import MediaPipeAlone
from .clip import ClipSource
from .machine import cpu_seconds


class PassLog:
    """What one pass measured. Per frame (``(F,)`` arrays, written into space reserved for
    ``capacity`` frames up front, so a long soak measures the pipeline's memory, not this
    log's): ``frame_id``, ``capture_ns``, ``delivered_ns`` (every sink had the frame; for the
    baseline: its arrays were in hand), ``people`` (tracked people, or people found for the
    baseline), ``cpu_3d_ns`` (the caller thread's CPU time for everything after the 2D: the 3D
    work alone, without the time spent waiting for a core) and ``stage_ns`` (stage name →
    ``(F,)`` float64, NaN where a frame lacks the stage). Per pass: ``wall_s``, ``cpu_s`` (this
    process, all threads), ``source_delivered``, ``dropped_capture`` (frames the source replaced
    before they were taken), ``dropped_handoff`` (frames the 3D never got), ``capture_depth``
    and ``handoff_depth`` (per put, ``(time_ns, frames waiting)`` in the capture slot and the
    2D → 3D slot)."""

    _COLUMNS = ("frame_id", "capture_ns", "delivered_ns", "people", "cpu_3d_ns")

    def __init__(self, label: str, capacity: int = 0) -> None:
        self.label = label
        self._n = 0
        self._capacity = capacity
        for name in self._COLUMNS:
            setattr(self, name, np.zeros(capacity, np.int64))
        self.stage_ns: dict[str, np.ndarray] = {}
        self.wall_s = self.cpu_s = 0.0
        self.source_delivered = self.dropped_capture = self.dropped_handoff = 0
        self.capture_depth: list[tuple[int, int]] = []
        self.handoff_depth: list[tuple[int, int]] = []
        #: paced: how late each frame's capture stamp came after its scheduled time (ns)
        self.capture_lateness_ns = np.zeros(0, np.int64)

    def _grow(self) -> None:
        self._capacity = max(16, 2 * self._capacity)
        for name in self._COLUMNS:
            column = getattr(self, name)
            setattr(self, name, np.concatenate([column, np.zeros(self._capacity - len(column), np.int64)]))
        for name, column in self.stage_ns.items():
            self.stage_ns[name] = np.concatenate([column, np.full(self._capacity - len(column), np.nan)])

    def add(self, frame_id: int, capture_ns: int, delivered_ns: int, people: int, stage_ns: dict[str, int],
            cpu_3d_ns: int = 0) -> None:  # fmt: skip
        if self._n >= self._capacity:
            self._grow()
        i = self._n
        self.frame_id[i], self.capture_ns[i], self.delivered_ns[i] = frame_id, capture_ns, delivered_ns
        self.people[i], self.cpu_3d_ns[i] = people, cpu_3d_ns
        for name, ns in stage_ns.items():
            column = self.stage_ns.get(name)
            if column is None:
                column = self.stage_ns[name] = np.full(self._capacity, np.nan)
            column[i] = ns
        self._n += 1

    def finish(self) -> PassLog:
        """Trim the reserved space to the frames recorded (idempotent)."""
        for name in self._COLUMNS:
            setattr(self, name, getattr(self, name)[: self._n])
        self.stage_ns = {k: v[: self._n] for k, v in self.stage_ns.items()}
        self._capacity = self._n
        return self

    @property
    def frames(self) -> int:
        return self._n

    @staticmethod
    def concat(label: str, logs: list[PassLog]) -> PassLog:
        """The passes of one configuration as one log (sums of times and drops)."""
        logs = [log.finish() for log in logs]
        out = PassLog(label)
        for name in PassLog._COLUMNS:
            setattr(out, name, np.concatenate([getattr(log, name) for log in logs]) if logs else np.zeros(0, np.int64))
        out._n = out._capacity = sum(log.frames for log in logs)
        names = list(dict.fromkeys(k for log in logs for k in log.stage_ns))
        out.stage_ns = {k: np.concatenate([log.stage_ns.get(k, np.full(log.frames, np.nan)) for log in logs])
                        for k in names}  # fmt: skip
        for name in ("wall_s", "cpu_s", "source_delivered", "dropped_capture", "dropped_handoff"):
            setattr(out, name, sum(getattr(log, name) for log in logs))
        out.capture_depth = [d for log in logs for d in log.capture_depth]
        out.handoff_depth = [d for log in logs for d in log.handoff_depth]
        out.capture_lateness_ns = np.concatenate([log.capture_lateness_ns for log in logs] or [np.zeros(0, np.int64)])
        return out


def _serial_run(pipeline: Pipeline, source: ClipSource) -> Iterator[tuple[PoseFrame, int]]:
    """:meth:`Pipeline.run` step by step (the same calls in the same order), with the thread CPU
    time of everything after the 2D."""
    while (frame := source.read()) is not None:
        stage_ns: dict[str, int] = {}
        detections = pipeline.detect(frame, stage_ns)
        cpu = time.thread_time_ns()
        result = pipeline.finish(frame, detections, stage_ns)
        yield result, time.thread_time_ns() - cpu
        if pipeline.should_stop(frame):
            return


def _threaded_run(runner: ThreadedPipeline, source: ClipSource) -> Iterator[tuple[PoseFrame, int]]:
    """The threaded runner, with the caller thread's CPU time per frame (the 3D work: the wait
    for the hand-off costs no CPU)."""
    cpu = time.thread_time_ns()
    for result in runner.run(source):
        yield result, time.thread_time_ns() - cpu
        cpu = time.thread_time_ns()


def posecast_pass(label: str, pipeline: Pipeline, source: ClipSource, threaded: bool) -> PassLog:
    """Run ``source`` to its end through ``pipeline`` (on two threads when ``threaded``)."""
    log = PassLog(label, source.frames)
    runner = ThreadedPipeline(pipeline, record_depths=True) if threaded else pipeline
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with source:
        steps = _threaded_run(runner, source) if threaded else _serial_run(pipeline, source)
        for result, cpu_3d in steps:
            log.add(result.frame_id, result.capture_ns, result.delivered_ns, len(result.tracked), result.stage_ns,
                    cpu_3d)  # fmt: skip
    log.wall_s, log.cpu_s = time.perf_counter() - t0, cpu_seconds() - cpu0
    log.source_delivered, log.dropped_capture = source.delivered, source.dropped_frames
    log.capture_depth = list(source.handoff_depth)
    log.capture_lateness_ns = np.asarray(source.lateness_ns, np.int64)
    if threaded:
        log.dropped_handoff, log.handoff_depth = runner.dropped_frames, list(runner.handoff.depths)
    return log.finish()


def baseline_pass(baseline: MediaPipeAlone, source: ClipSource, bare: zmq.Socket | None = None) -> PassLog:
    """Run ``source`` to its end through MediaPipe alone; a frame's latency is from the moment
    it was taken to its landmark arrays in hand (``keypoints2d``). With ``bare`` (a PUB socket)
    each frame then sends a bare message, its send time (8 bytes): ZeroMQ alone, same load."""
    log = PassLog("mediapipe_alone", source.frames)
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with source:
        while (frame := source.read()) is not None:
            people = baseline.process(frame)
            done = time.monotonic_ns()
            log.add(frame.frame_id, frame.capture_ns, done, people, {"keypoints2d": done - frame.capture_ns})
            if bare is not None:
                bare.send(time.monotonic_ns().to_bytes(8, "little"), zmq.NOBLOCK)
    log.wall_s, log.cpu_s = time.perf_counter() - t0, cpu_seconds() - cpu0
    log.source_delivered, log.dropped_capture = source.delivered, source.dropped_frames
    return log.finish()
