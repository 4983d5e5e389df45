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
from dataclasses import dataclass, field

import numpy as np

from ..pipeline import Pipeline
from ..threaded import ThreadedPipeline
from ..types import PoseFrame
from .baseline import MediaPipeAlone
from .clip import ClipSource
from .machine import cpu_seconds


@dataclass
class PassLog:
    """What one pass measured. Per frame (``(F,)`` arrays once :meth:`finish` ed): ``frame_id``,
    ``capture_ns``, ``delivered_ns`` (every sink had the frame; for the baseline: its arrays
    were in hand), ``people`` (tracked people, or people found for the baseline) and ``stage_ns``
    (stage name → ``(F,)`` float64, NaN where a frame lacks the stage). Per pass: ``wall_s``,
    ``cpu_s`` (this process, all threads), ``source_delivered``, ``dropped_capture`` (frames the
    source replaced before they were taken), ``dropped_handoff`` (frames the 3D never got),
    ``capture_depth`` and ``handoff_depth`` (per put, ``(time_ns, frames waiting)`` in the capture
    slot and the 2D → 3D slot); ``cpu_3d_ns`` per frame, the CPU time of the caller's thread for
    everything after the 2D (the 3D work alone, without the time spent waiting for a core)."""

    label: str
    frame_id: list = field(default_factory=list)
    capture_ns: list = field(default_factory=list)
    delivered_ns: list = field(default_factory=list)
    people: list = field(default_factory=list)
    stages: list = field(default_factory=list)
    stage_ns: dict[str, np.ndarray] = field(default_factory=dict)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    source_delivered: int = 0
    dropped_capture: int = 0
    dropped_handoff: int = 0
    capture_depth: list = field(default_factory=list)
    handoff_depth: list = field(default_factory=list)
    cpu_3d_ns: list = field(default_factory=list)

    def add(self, frame_id: int, capture_ns: int, delivered_ns: int, people: int, stage_ns: dict[str, int],
            cpu_3d_ns: int = 0) -> None:  # fmt: skip
        self.cpu_3d_ns.append(cpu_3d_ns)
        self.frame_id.append(frame_id)
        self.capture_ns.append(capture_ns)
        self.delivered_ns.append(delivered_ns)
        self.people.append(people)
        self.stages.append(stage_ns)

    def finish(self) -> PassLog:
        """Turn the per-frame lists into arrays (idempotent)."""
        if isinstance(self.frame_id, np.ndarray):
            return self
        names = list(dict.fromkeys(k for s in self.stages for k in s))
        self.stage_ns = {k: np.array([s.get(k, np.nan) for s in self.stages], np.float64) for k in names}
        self.frame_id = np.asarray(self.frame_id, np.int64)
        self.capture_ns = np.asarray(self.capture_ns, np.int64)
        self.delivered_ns = np.asarray(self.delivered_ns, np.int64)
        self.people = np.asarray(self.people, np.int64)
        self.cpu_3d_ns = np.asarray(self.cpu_3d_ns, np.int64)
        self.stages = []
        return self

    @property
    def frames(self) -> int:
        return len(self.frame_id)

    @staticmethod
    def concat(label: str, logs: list[PassLog]) -> PassLog:
        """The passes of one configuration as one log (sums of times and drops)."""
        logs = [log.finish() for log in logs]
        out = PassLog(label)
        for name in ("frame_id", "capture_ns", "delivered_ns", "people", "cpu_3d_ns"):
            setattr(out, name, np.concatenate([getattr(log, name) for log in logs]) if logs else np.zeros(0, np.int64))
        names = list(dict.fromkeys(k for log in logs for k in log.stage_ns))
        out.stage_ns = {k: np.concatenate([log.stage_ns.get(k, np.full(log.frames, np.nan)) for log in logs])
                        for k in names}  # fmt: skip
        for name in ("wall_s", "cpu_s", "source_delivered", "dropped_capture", "dropped_handoff"):
            setattr(out, name, sum(getattr(log, name) for log in logs))
        out.capture_depth = [d for log in logs for d in log.capture_depth]
        out.handoff_depth = [d for log in logs for d in log.handoff_depth]
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
    log = PassLog(label)
    runner = ThreadedPipeline(pipeline) if threaded else pipeline
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with source:
        steps = _threaded_run(runner, source) if threaded else _serial_run(pipeline, source)
        for result, cpu_3d in steps:
            log.add(result.frame_id, result.capture_ns, result.delivered_ns, len(result.tracked), result.stage_ns,
                    cpu_3d)  # fmt: skip
    log.wall_s, log.cpu_s = time.perf_counter() - t0, cpu_seconds() - cpu0
    log.source_delivered, log.dropped_capture = source.delivered, source.dropped_frames
    log.capture_depth = list(source.handoff_depth)
    if threaded:
        log.dropped_handoff, log.handoff_depth = runner.dropped_frames, list(runner.handoff.depths)
    return log.finish()


def baseline_pass(baseline: MediaPipeAlone, source: ClipSource) -> PassLog:
    """Run ``source`` to its end through MediaPipe alone; a frame's latency is from the moment
    it was taken to its landmark arrays in hand (``keypoints2d``)."""
    log = PassLog("mediapipe_alone")
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    with source:
        while (frame := source.read()) is not None:
            people = baseline.process(frame)
            done = time.monotonic_ns()
            log.add(frame.frame_id, frame.capture_ns, done, people, {"keypoints2d": done - frame.capture_ns})
    log.wall_s, log.cpu_s = time.perf_counter() - t0, cpu_seconds() - cpu0
    log.source_delivered, log.dropped_capture = source.delivered, source.dropped_frames
    return log.finish()
