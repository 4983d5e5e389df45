"""The live pipeline across threads: the 2D detector on a thread of its own, the 3D after it.

::

    capture (the source's thread) ─▶ 2D keypoints (detector thread) ─▶ window → lift → smooth → publish (caller)
                   slot of 1 frame                       slot of 1 frame

On a machine with two or more cores the 3D work of frame ``i`` (about a millisecond) runs while
MediaPipe already works on frame ``i + 1``, so the frame rate is MediaPipe's own; each frame's
latency is still its 2D plus its 3D. Hand-offs hold one item: a live source (a camera, a
paced file) that outpaces a stage has its older frame dropped (counted in
:attr:`ThreadedPipeline.dropped_frames`), never queued, so latency cannot build up; a file
read as fast as it decodes (media time) waits instead, so no frame of it is lost. The time a
frame waits at each hand-off goes into ``stage_ns``: ``handoff_2d`` (capture → the detector
takes it) and ``handoff_3d`` (2D done → the 3D takes it).

The 3D stage, the sinks and the yielded frames stay on the caller's thread (OpenCV's window
needs the main thread). An exception in the detector thread (a source or detector error) is
raised on the caller's thread; closing the generator early stops the detector thread.

When it pays (``posecast bench --runner both`` measures it): with cores to spare the 3D is
hidden and the frame rate is the 2D's own. On two cores it is not: MediaPipe's inference
spills onto the second core in bursts, so the 3D of frame ``i`` waits for a core while the 2D
of frame ``i + 1`` runs, and each frame's latency grows (measured on a quiet 2-core VM:
everything after MediaPipe p50 1.48 → 1.63 ms, p99 2.01 → 5.22 ms, for 3 % more frames per
second; on a busy one p50 2.34 → 5.71 ms).
:func:`make_runner` therefore picks the threaded runner only with :data:`MIN_CORES_THREADED`
usable cores or more, the serial :class:`Pipeline` below that.
"""

from __future__ import annotations

import array
import logging
import threading
import time
from collections.abc import Generator

from ..engines.errors import PosecastError
from ..engines.host import usable_cores
from .errors import SourceStalledError
from .pipeline import Pipeline
from .stages import FrameSource
from .types import PoseFrame

log = logging.getLogger(__name__)

#: Usable cores from which ``make_runner("auto")`` runs the 2D on a thread of its own.
MIN_CORES_THREADED = 4
#: The runner choices of ``posecast run --runner`` and ``posecast bench --runner``.
RUNNERS = ("auto", "threaded", "serial")


def threaded_by_default() -> bool:
    """What ``auto`` chooses here: threaded with :data:`MIN_CORES_THREADED` usable cores or more."""
    return usable_cores() >= MIN_CORES_THREADED


def make_runner(pipeline: Pipeline, runner: str = "auto") -> Pipeline | ThreadedPipeline:
    """``pipeline`` itself (``serial``), wrapped in a :class:`ThreadedPipeline` (``threaded``),
    or the one :func:`threaded_by_default` picks (``auto``); both have ``run(source, max_frames)``."""
    if runner not in RUNNERS:
        raise ValueError(f"runner must be one of {', '.join(RUNNERS)}, got {runner!r}")
    threaded = runner == "threaded" or (runner == "auto" and threaded_by_default())
    return ThreadedPipeline(pipeline) if threaded else pipeline


class HandOff:
    """A hand-off of one item between two threads.

    ``put(item, block)``: with ``block=False`` an item not yet taken is replaced (and counted in
    :attr:`dropped`); with ``block=True`` the caller waits until the slot is free. ``get()``
    blocks for the next item and returns it with the nanoseconds it waited in the slot;
    ``None`` once closed. :attr:`max_depth`: the most items ever waiting at a put (0 or 1); with
    ``record`` (benchmarks), :attr:`depths` lists, per put, ``(time.monotonic_ns(), items
    waiting)`` (16 bytes a put: never on by default, a live run would grow).
    """

    def __init__(self, record: bool = False) -> None:
        self._item: object | None = None
        self._put_ns = 0
        self._closed = False
        self._cond = threading.Condition()
        self.dropped = 0
        self.max_depth = 0
        self._record = array.array("q") if record else None

    @property
    def depths(self) -> list[tuple[int, int]]:
        """``(time_ns, items waiting)`` per put (empty unless recording)."""
        r = self._record if self._record is not None else array.array("q")
        return list(zip(r[::2], r[1::2], strict=True))

    def put(self, item: object, block: bool = False) -> None:
        with self._cond:
            if block:
                self._cond.wait_for(lambda: self._item is None or self._closed)
            if self._closed:
                return
            now = time.monotonic_ns()
            waiting = int(self._item is not None)
            self.max_depth = max(self.max_depth, waiting)
            if self._record is not None:
                self._record.extend((now, waiting))
            if waiting:
                self.dropped += 1
            self._item, self._put_ns = item, now
            self._cond.notify_all()

    def get(self) -> tuple[object, int] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._item is not None or self._closed)
            if self._item is None:
                return None
            item, self._item = self._item, None
            self._cond.notify_all()
            return item, time.monotonic_ns() - self._put_ns

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


_END = object()


class ThreadedPipeline:
    """Runs ``pipeline`` with its detector on a thread of its own (see the module docstring).

    ``run(source, max_frames)`` is :meth:`Pipeline.run`'s drop-in: it yields a
    :class:`PoseFrame` per frame that reached the 3D stage, until the source ends,
    ``max_frames`` frames were read or a sink asks to stop; it raises what the detector thread
    raised, and :class:`~posecast.realtime.errors.SinkError` after a sink failed.
    """

    def __init__(self, pipeline: Pipeline, join_timeout_s: float = 10.0, record_depths: bool = False) -> None:
        self.pipeline = pipeline
        self.join_timeout_s = join_timeout_s
        self.record_depths = record_depths
        self.handoff = HandOff(record_depths)

    @property
    def dropped_frames(self) -> int:
        """Frames the 3D stage never got because a newer one replaced them at the hand-off."""
        return self.handoff.dropped

    def _detect_loop(self, source: FrameSource, max_frames: int | None, stop: threading.Event) -> None:
        handoff, pipeline = self.handoff, self.pipeline
        count = 0
        try:
            while not stop.is_set() and (max_frames is None or count < max_frames) and not pipeline.closed:
                try:
                    frame = source.read()
                except SourceStalledError as stall:  # reported on the caller's thread, then read again
                    handoff.put(stall, block=True)
                    continue
                if frame is None:
                    break
                count += 1
                stage_ns = {"handoff_2d": max(0, time.monotonic_ns() - frame.capture_ns)}
                detections = pipeline.detect(frame, stage_ns)
                handoff.put((frame, detections, stage_ns), block=frame.on_media_time)
        except BaseException as exc:  # raised again on the caller's thread; closed from another one: the end
            if not (isinstance(exc, PosecastError) and pipeline.closed):
                handoff.put(exc, block=True)
                return
        handoff.put(_END, block=True)

    def run(self, source: FrameSource, max_frames: int | None = None) -> Generator[PoseFrame, None, None]:
        pipeline = self.pipeline
        pipeline.check_run_arguments(source, max_frames)  # (API QA: unchecked here, "2.5" ran 3 frames)
        pipeline.check_outputs_against(source)
        pipeline.open()
        token = pipeline.begin_run()
        pipeline._threaded_run = True  # no other run while its 2D thread runs
        try:
            yield from self._run(source, max_frames, token)
        finally:
            pipeline._threaded_run = False

    def _run(self, source: FrameSource, max_frames: int | None, token: object) -> Generator[PoseFrame, None, None]:
        pipeline = self.pipeline
        self.handoff = handoff = HandOff(self.record_depths)
        stop = threading.Event()
        worker = threading.Thread(target=self._detect_loop, args=(source, max_frames, stop), name="posecast-2d",
                                  daemon=True)  # fmt: skip
        worker.start()
        try:
            while (got := handoff.get()) is not None:
                item, waited_ns = got
                if item is _END:
                    return
                if isinstance(item, SourceStalledError):
                    pipeline.source_stalled(item.stalled_s)
                    continue
                if isinstance(item, BaseException):
                    raise item
                frame, detections, stage_ns = item
                stage_ns["handoff_3d"] = waited_ns
                try:
                    with pipeline.frame_turn(token):
                        result = pipeline.finish(frame, detections, stage_ns)
                except PosecastError:
                    if pipeline.closed:  # closed from another thread (a game loop's): the run ends
                        return
                    raise
                yield result
                if pipeline.should_stop(frame):
                    return
        finally:
            stop.set()
            handoff.close()
            worker.join(timeout=self.join_timeout_s)
            if worker.is_alive():
                log.warning("the 2D detector thread did not stop within %.0f s", self.join_timeout_s)
