"""``--output-video FILE``: the annotated view (camera frame, 2D and 3D skeletons, figures) as a video.

Drawing and encoding run on a thread of this sink's own, behind a queue of
:data:`VideoSink.queue_frames` frames, so the pipeline does not wait for the encoder, except
where waiting is the right answer:

- a **file** read as fast as it decodes (frames on media time): every frame is written. When
  the encoder falls behind, :meth:`VideoSink.write` waits for room in the queue (backpressure:
  the run slows to the encoder's pace, nothing is skipped), and the run's end waits for the
  queue to drain. The video has the file's frame rate, so it plays as long as the source. Its
  frames go on that rate's grid of their media time: one a frame (a constant-rate file); in a
  variable-rate video the grid is the rate its frames come at (OpenCV states the average), the
  frame before a gap is held over it, and a frame early for its slot takes the next (QA: a 1.5 s
  freeze vanished, the frames written evenly; on the average's grid it played as 0.6 s).
- a **live** source (a camera, a stream, a file paced with ``--realtime``): the pipeline never
  waits; when the queue is full the oldest frame is dropped and counted. The video's rate is the
  pipeline's, measured over its second second (frames handed to this sink over their capture
  times; the first, the start-up's, is the run's slowest), and each frame goes where its capture
  time falls on that rate's grid: a gap (frames
  the pipeline or this sink dropped, a slower stretch, a stall) holds the frame before it, and
  a frame that falls where the video has one already is left out, so the video lasts as long as
  the run whatever its pace did after the first second (QA: a slow start made a 22 s run a
  73 s video; a run that slowed down later, a video 7-38 % short). The log counts both.

Why not a :class:`~posecast.realtime.sinks.background.BackgroundSink` (the pipeline's queue and
thread for other outputs): a live video cannot start before its rate is measured, so its first
frames wait here, not in the encoder; and the file is finished on the encoder's own thread, so a
stop signal while the run ends cannot cut the encoder's flush short (the pipeline's wrapper
closes a sink on the pipeline's thread, where the signal lands) and a live stop drops what is
queued after :data:`_LIVE_CLOSE_S` instead of waiting while the encoder makes progress.

The codec follows the file name (``.mp4``: H.264 with PyAV, ``.webm``: VP8;
:mod:`posecast.realtime.sinks.video_file`); the log names it when the file is finished.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...engines.cli_args import output_file
from ...engines.fileio import output_file_problem
from ..recording.format import take_fps
from ..stages import Sink
from ..types import PoseFrame, StreamMeta
from .hud import RateMeter, view_stats
from .live_view import LiveView, LiveViewOptions, ViewError
from .video_file import check_video_path

log = logging.getLogger(__name__)

#: Frames a live source's rate is measured over before the video starts (at most).
_RATE_FRAMES = 60
_RATE_WINDOW_NS = 1_000_000_000
#: The start of a live run left out of that measurement: MediaPipe's and ONNX Runtime's first
#: calls and the floor's estimate made it the run's slowest second (QA: a run at 25.8 fps made a
#: 6.88 fps video, 73 % of its frames left out). Its frames are in the video, on the grid.
_RATE_SKIP_NS = 1_000_000_000
#: A file's first frames whose media times give the rate they come at (VideoSink._frame_rate).
_FILE_RATE_FRAMES = 16
#: How long closing waits for a live source's queued frames before dropping the rest (seconds).
_LIVE_CLOSE_S = 0.5


class VideoSink(Sink):
    """Writes the annotated view of every frame to ``path`` (module docstring)."""

    name = "video"
    inline = True  # its own queue and thread: see the module docstring for when write() waits
    queue_frames = 32

    def __init__(self, path: Path, options: LiveViewOptions | None = None) -> None:
        self.path = check_video_path(Path(path))
        problem = output_file_problem(self.path)  # tried, not judged from permission bits
        if problem is not None:
            raise ViewError(f"cannot write the view video to {self.path}: {problem}; pass --output-video FILE in a "
                            "writable folder")  # fmt: skip
        self.options = options or LiveViewOptions()
        self.fps: float | None = None  # the video's frame rate, once known
        self.frames_written = 0
        #: a live source's video: frames written again over a gap, and frames left out between
        #: the video's (module docstring)
        self.held_frames = 0
        self.skipped_frames = 0
        self._grid_origin_ns: int | None = None  # the first frame's time on the video's grid
        self._run_capture_ns: tuple[int, int] | None = None  # a live source's first and last frame handed in
        self._slots = 0  # the video frames on a live source's grid so far
        self._source_fps = 0.0
        self._live_fps: float | None = None  # a live source's measured rate
        self._live_times: list[int] = []
        self._meter = RateMeter()
        self._queue: collections.deque[tuple[PoseFrame, dict[str, float], bool]] = collections.deque()
        #: the first frames, taken off the queue, waiting for the video's rate (a live source's
        #: measured, a file's first frames' own: _frame_rate)
        self._waiting: list[tuple[PoseFrame, dict[str, float], bool]] = []
        self._ready = threading.Condition()
        self._closing = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        if not any("--output-video" in action.option_strings for action in parser._actions):
            parser.add_argument("--output-video", type=output_file, metavar="FILE",
                                help="also write the annotated view to this video: .mp4 (H.264 with PyAV) or "
                                     ".webm (VP8), at the source's frame rate")  # fmt: skip

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> VideoSink | None:
        path = getattr(args, "output_video", None)
        return None if path is None else cls(Path(path))

    def output_files(self) -> dict[str, Path]:
        return {"--output-video": self.path}

    def open(self, meta: StreamMeta) -> None:
        self._source_fps = meta.source_fps
        self._done = threading.Event()  # set once the thread has finished the file
        self._thread = threading.Thread(target=self._work, name="sink-video", daemon=True)
        self._thread.start()

    def update_meta(self, meta: StreamMeta) -> None:
        with self._ready:
            self._source_fps = meta.source_fps

    def write(self, frame: PoseFrame) -> None:
        if frame.image_bgr is None:
            return
        stats = view_stats(frame, self._meter, time.monotonic_ns())
        live = not frame.on_media_time
        with self._ready:
            self._raise_pending()
            if live:
                first_ns = frame.capture_ns if self._run_capture_ns is None else self._run_capture_ns[0]
                self._run_capture_ns = (first_ns, frame.capture_ns)
                if self._live_fps is None:
                    self._measure(frame.capture_ns)
            if len(self._queue) >= self.queue_frames:
                if live:
                    self._queue.popleft()
                    self.dropped_frames += 1
                else:  # backpressure: a recorded file keeps every frame
                    self._ready.wait_for(lambda: len(self._queue) < self.queue_frames or self._error is not None)
                    self._raise_pending()
            self._queue.append((frame, stats, live))
            self._ready.notify_all()

    def _measure(self, capture_ns: int, final: bool = False) -> None:
        """Count a live frame towards the rate (under the lock); fix the rate over the second after
        the run's first (``final``: with the frames there were, the first second's too if need be)."""
        times = self._live_times
        if not final:
            times.append(capture_ns)
        later = times[bisect.bisect_left(times, times[0] + _RATE_SKIP_NS):] if times else []
        sample = later if len(later) >= 2 or not final else times
        span_ns = sample[-1] - sample[0] if sample else 0
        if final or span_ns >= _RATE_WINDOW_NS or len(later) >= _RATE_FRAMES:
            self._live_fps = (len(sample) - 1) * 1e9 / span_ns if span_ns > 0 else 30.0

    def _raise_pending(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _take(self) -> tuple[PoseFrame, dict[str, float], bool] | None:
        with self._ready:
            self._ready.wait_for(lambda: self._queue or self._closing)
            if not self._queue:
                return None
            item = self._queue.popleft()
            self._ready.notify_all()
            return item

    def _work(self) -> None:
        view: LiveView | None = None
        try:
            while (item := self._take()) is not None:
                if view is None:
                    with self._ready:
                        self._waiting.append(item)
                        waiting = list(self._waiting)
                    fps = self._frame_rate(live=waiting[0][2], waiting=waiting)
                    if fps is None:
                        continue
                    view = self._start(fps)
                    self._draw_waiting(view)
                else:
                    self._draw(view, item)
            with self._ready:
                waiting = list(self._waiting)
            if view is None and waiting:  # a run shorter than the measuring window
                view = self._start(self._frame_rate(live=waiting[0][2], final=True, waiting=waiting) or 30.0)
                self._draw_waiting(view)
        except BaseException as exc:  # handed to the pipeline's thread, raised there
            with self._ready:
                self._error = exc
                self._queue.clear()
                self._ready.notify_all()
        finally:
            try:
                if view is not None:
                    view.close()
            except BaseException as exc:  # noqa: BLE001 - reported from close()
                with self._ready:
                    self._error = self._error or exc
            finally:
                self._done.set()

    def _draw_waiting(self, view: LiveView) -> None:
        """Draw the frames that waited for the rate, one at a time (a stop may drop the rest)."""
        while True:
            with self._ready:
                if not self._waiting:
                    return
                item = self._waiting.pop(0)
            self._draw(view, item)

    def _frame_rate(self, live: bool, final: bool = False,
                    waiting: Sequence[tuple[PoseFrame, dict[str, float], bool]] = ()) -> float | None:  # fmt: skip
        """The video's rate: a file's own, or a live source's measured rate (``None``: still
        measuring; ``final``: measure with the frames there were). A file's is the rate its first
        :data:`_FILE_RATE_FRAMES` frames come at (:func:`~..recording.format.take_fps`: the stated
        rate where their median step is its period): OpenCV states a variable-rate file's average,
        and on that grid frames that come faster each took the next slot, later and later (QA: a
        1.5 s freeze played as 0.6 s, the motion before it at half speed)."""
        with self._ready:
            if live:
                if self._live_fps is None and final:
                    self._measure(0, final=True)
                return self._live_fps
            stated = self._source_fps
        if len(waiting) < _FILE_RATE_FRAMES and not final:
            return None
        # the rate a take's frames come at, as a recording's is read (one function for both)
        frames_fps = take_fps(np.array([item[0].timestamp_ns for item in waiting], np.int64), stated)
        if frames_fps <= 0:
            log.info("%s: the source's frame rate is unknown; writing 30 fps", self.path)
            return 30.0
        if stated > 0 and frames_fps != stated:
            log.info("%s: the source states %.4g fps and its frames come at %.4g fps: the video is written at "
                     "the frames' rate", self.path, stated, frames_fps)  # fmt: skip
        return frames_fps

    def _start(self, fps: float) -> LiveView:
        self.fps = fps
        options = self.options
        return LiveView(LiveViewOptions(**{**vars(options), "show": False, "output_path": self.path,
                                           "output_fps": fps}))  # fmt: skip

    def _draw(self, view: LiveView, item: tuple[PoseFrame, dict[str, float], bool]) -> None:
        frame, stats, live = item
        if live or self._source_fps > 0:  # on the video's grid of the run's or the file's time (module docstring)
            clock_ns = frame.capture_ns if live else frame.timestamp_ns
            if self._grid_origin_ns is None:
                self._grid_origin_ns = clock_ns
            slot = round((clock_ns - self._grid_origin_ns) * (self.fps or 30.0) / 1e9)
            if slot < self._slots and live:
                self.skipped_frames += 1
                return
            slot = max(slot, self._slots)  # a file keeps every frame: one early takes the next slot
            if slot > self._slots and self._slots:
                view.write_last_again(slot - self._slots)
                self.held_frames += slot - self._slots
            self._slots = slot + 1
        first = frame.tracked[0] if frame.tracked else None
        others = [(p.keypoints_px, p.confidence, p.joints_m) for p in frame.tracked[1:]]
        view.process(frame.image_bgr, None if first is None else first.keypoints_px,
                     None if first is None else first.confidence, None if first is None else first.joints_m, stats,
                     state=first.tracking if first is not None else "lost", others=others)  # fmt: skip
        self.frames_written += 1

    def close(self) -> None:
        """Write what is queued (a file source's frames all; a live source's for up to
        :data:`_LIVE_CLOSE_S`, the rest dropped and counted, so a stop is quick), finish the file.
        A stop signal (``KeyboardInterrupt``) while it waits drops the frames still queued, and
        the file is finished with those written before the signal is raised again: cut short
        there, the encoder thread went on alone, the video was lost, its temporary file left, and
        the process could abort in the encoder's teardown."""
        with self._ready:
            self._closing = True
            self._ready.notify_all()
        stopped: KeyboardInterrupt | None = None
        if self._thread is not None:
            stopped = self._join(_LIVE_CLOSE_S)
            self._drop_queued(everything=stopped is not None)  # a live source's left, or all once stopped
            if stopped is None and (stopped := self._join()) is not None:  # stopped while a file's frames went in
                self._drop_queued(everything=True)
            while not self._done.is_set():  # the last frame and the file's end
                again = self._join()
                if again is not None and stopped is not None:  # stopped twice (the CLI only logs a second
                    # signal; code calling close may mean it): give up on the file, its encoder may hang
                    log.warning("%s: stopped again while it was being finished: not waited for (it may be left "
                                "unfinished)", self.path)  # fmt: skip
                    self._thread = None  # a later close does not wait for it again
                    raise again
                stopped = again or stopped
            self._thread.join()  # (done: the thread is returning)
            self._thread = None
            if self.dropped_frames:  # said once, by the close that finished the file
                short_s = self.short_of_run_s
                if stopped is not None:
                    why = "the run was stopped while it was being finished: the video ends early"
                elif short_s >= 1 / self.fps:  # (QA: a 5 s pause, 150 held frames: the encoder never caught up)
                    why = (f"the encoder could not keep up with the live source: the video is {short_s:.1f} s shorter "
                           "than the run (frames held over a gap cost the encoder as much as new ones)")  # fmt: skip
                else:
                    why = ("the encoder could not keep up with the live source: the frame before each is held, so "
                           "the video keeps the run's time")  # fmt: skip
                log.warning("%s: %d frames not written (%s)", self.path, self.dropped_frames, why)
            if self.held_frames or self.skipped_frames:
                log.info("%s: on a %.3g fps grid of the source's time, %d frame(s) held over gaps and %d left out "
                         "between the video's frames", self.path, self.fps, self.held_frames,
                         self.skipped_frames)  # fmt: skip
        with self._ready:
            self._raise_pending()
        if stopped is not None:
            raise stopped

    @property
    def short_of_run_s(self) -> float:
        """How much shorter than the run a live source's video is (seconds; 0 for a file): the
        frames dropped at its start or still queued at its end (their grid slots never written)."""
        if self._run_capture_ns is None or not self.fps:
            return 0.0
        first_ns, last_ns = self._run_capture_ns
        return max(0.0, (last_ns - first_ns) / 1e9 + 1 / self.fps - self._slots / self.fps)

    def _join(self, timeout_s: float | None = None) -> KeyboardInterrupt | None:
        """Wait for the encoder thread to finish the file; the stop signal that cut the wait
        short, if one did. (Not ``Thread.join``: interrupted, Python 3.11's marks the thread
        stopped while it still runs, and the file would be renamed after close returned.)"""
        try:
            self._done.wait(timeout_s)
        except KeyboardInterrupt as stop:
            return stop
        return None

    def _drop_queued(self, everything: bool) -> None:
        """Drop the queued frames not yet encoded: a live source's (a file's are all written),
        or ``everything``; counted in :attr:`dropped_frames`."""
        with self._ready:
            left = collections.deque() if everything else collections.deque(i for i in self._queue if not i[2])
            self.dropped_frames += len(self._queue) - len(left)
            self._queue = left
            if everything:  # (those that waited for the rate go in unless stopped: a short run's whole video)
                self.dropped_frames += len(self._waiting)
                self._waiting = []
