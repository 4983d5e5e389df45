"""A live camera, read on its own thread that keeps only the newest frame.

A frame the pipeline had no time to take is dropped and counted in ``dropped_frames``, never
queued, so latency cannot build up. Frames carry their capture time.

A flaky device (a loose USB cable, a stream that drops) is not the end. The log says when it
stops (no frame for ``stall_report_s``, or three frame intervals of a slower source) and when it
comes back (a source that keeps stalling is summarised once a minute instead: :mod:`.stall_log`),
also when the device's read hangs instead of failing (a stream that keeps its
connection open and sends nothing: OpenCV's read then returns only after its own timeout,
``CAP_PROP_READ_TIMEOUT_MSEC``). Failed grabs are retried at once for ``stall_report_s``; after
that (and at least ``max_read_failures`` failures in a row) the device is reopened, again and
again with a growing pause (0.05 s doubling to 1 s), until frames come back or ``max_stall_s``
passes without one (then the stream ends). Meanwhile ``read()`` raises
:class:`~posecast.realtime.errors.SourceStalledError` every ``stall_report_s`` once no frame has
come for ``stall_report_s``, so the pipeline can tell its subscribers (``source_stalled_s``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time

import cv2

from ...engines.cli_args import MAX_CAMERA_INDEX
from ...engines.errors import one_line
from ..errors import SourceError, SourceStalledError
from ..stages import FrameSource
from ..types import Frame
from .files import Pacer
from .stall_log import StallLog
from .video import FRAME_COUNT_SLACK

log = logging.getLogger(__name__)

#: The pause before reopening a device that stopped delivering, doubled each time up to the maximum (s).
_FIRST_PAUSE_S, _MAX_PAUSE_S = 0.05, 1.0
#: The delivered rate is measured over windows this long after the first frames (s); it replaces the
#: rate the device claims when the two differ by more than :data:`RATE_TOLERANCE`. FFmpeg says 25
#: fps for every HTTP MJPEG stream, and a webcam auto-exposing in dim light delivers half its mode.
RATE_MEASURE_S, RATE_TOLERANCE = 2.0, 0.15
#: Frames left out of the measurement: a stream may deliver its first ones in a burst.
_RATE_SKIP_FRAMES = 3
#: After a stall the rate is measured window after window until two in a row agree within
#: :data:`RATE_TOLERANCE` (at most this many), and only then reported: a stream back from a stall
#: first delivers the frames its server buffered meanwhile (QA: 88 fps reported for a 30 fps
#: stream until the end). The first measurement is one window (its burst is skipped by count).
_MAX_RATE_WINDOWS = 4


def delivered_fps(claimed_fps: float, counted_frames: int, counted_s: float) -> float:
    """The rate to report: ``claimed_fps`` when ``counted_frames`` intervals over ``counted_s``
    agree with it within :data:`RATE_TOLERANCE` (or the count is too short to say), else the
    measured rate rounded to 0.01 fps."""
    if counted_frames < 2 or counted_s <= 0:
        return claimed_fps
    measured = counted_frames / counted_s
    if claimed_fps > 0 and abs(measured - claimed_fps) <= RATE_TOLERANCE * claimed_fps:
        return claimed_fps
    return round(measured, 2)


def _rate_settled(windows_fps: list[float], needed: int) -> bool:
    """Whether the rates measured window after window may be reported: ``needed`` windows (1, or
    2 whose rates agree within :data:`RATE_TOLERANCE`), or :data:`_MAX_RATE_WINDOWS` of them."""
    if len(windows_fps) >= _MAX_RATE_WINDOWS or (needed == 1 and windows_fps):
        return True
    return len(windows_fps) >= 2 and abs(windows_fps[-1] - windows_fps[-2]) <= RATE_TOLERANCE * windows_fps[-2]


class CameraSource(FrameSource):
    """A live camera read on its own thread that keeps only the newest frame.

    ``frame_id`` counts every captured frame, so ids returned by :meth:`read` skip those that
    were dropped. A device silent for ``stall_report_s`` (and ``max_read_failures`` failed grabs)
    is reopened with backoff; the stream ends (``read()`` returns ``None``) only when no frame came for
    ``max_stall_s`` (see the module docstring).
    """

    name = "camera"

    def __init__(
        self,
        index: int,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        read_timeout_s: float = 5.0,
        max_read_failures: int = 10,
        stall_report_s: float = 0.5,
        max_stall_s: float = 30.0,
        device_path: str | None = None,
    ) -> None:
        self.index = index
        #: ``/dev/videoN`` when the camera was named so: messages name it as the user did
        self.device_path = device_path
        self.width, self.height, self.fps = width, height, fps
        self.read_timeout_s = read_timeout_s
        self.max_read_failures = max_read_failures
        self.stall_report_s = stall_report_s
        self.max_stall_s = max_stall_s
        #: Times the device stopped delivering and came back (reopened or not).
        self.stalls = 0
        self._last_frame_s: float | None = None  # time.monotonic() of the newest grabbed frame
        self.dropped_frames = 0
        #: Seconds without a frame after which the source gave up (0: it did not): the run then
        #: ends as a failure, not as a file that ended
        self.lost_after_s = 0.0
        self._capture: cv2.VideoCapture | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._latest: Frame | None = None
        self._ended = False
        self._stall_said = False  # this stall was recognised (by read() or the reopening): count its end
        self._stall_log: StallLog  # which stalls the log tells, and the summary of the others (made by open())
        #: Frames of a file behind a stream's address (0: live): read at its frame rate, ended at its end
        self.file_frames = 0
        self._end_error: str | None = None  # why the reading thread ended without a frame, for read() to raise
        self._file_pacer: Pacer | None = None

    @classmethod
    def from_spec(cls, spec: str, realtime: bool = False) -> CameraSource | None:
        """A camera index (``0``) or a Linux video device (``/dev/video2``, i.e. index 2)."""
        device = re.fullmatch(r"/dev/video(\d+)", spec)
        index = device.group(1) if device is not None else spec if spec.isdigit() else None
        if index is None:
            return None
        if int(index) > MAX_CAMERA_INDEX:  # OpenCV takes a C int and fails with its own assertion
            raise SourceError(f"camera index {int(index)} is out of range: cameras are numbered 0..{MAX_CAMERA_INDEX} "
                              "(`posecast run --source 0` is the first; on Linux see ls /dev/video*)")  # fmt: skip
        return cls(int(index), device_path=spec if device is not None else None)

    @property
    def label(self) -> str:
        """How messages name this source."""
        return f"camera {self.index}"

    #: what to check when no first frame comes
    _no_frame_hint = "is another program using it?"

    def _open_capture(self) -> cv2.VideoCapture:
        """The opened capture; raises :class:`SourceError` when it does not open."""
        capture = cv2.VideoCapture(self.index)
        if not capture.isOpened():
            capture.release()
            named = f"camera index {self.index}"
            if self.device_path:
                named = f"{self.device_path} ({named})"
            if sys.platform == "darwin":  # (review: the Linux commands were the advice on a Mac too)
                raise SourceError(f"{named} did not open: allow the terminal to use the camera (System "
                                  "Settings, Privacy & Security, Camera), then pass 0 for the first camera, 1 for "
                                  "the next")  # fmt: skip
            raise SourceError(
                f"{named} did not open: list the cameras with "
                "`ls /dev/video*` (or `v4l2-ctl --list-devices`) and pass one of their indices"
            )
        return capture

    def open(self) -> None:
        capture = self._configure(self._open_capture())
        self.source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if self.width or self.height or self.fps:  # the device may pick its nearest mode: say which
            asked = f"{self.width or '?'}x{self.height or '?'} at {self.fps or '?'} fps"
            log.info("%s: asked for %s, delivers %dx%d at %.4g fps", self.label, asked,
                     int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                     self.source_fps)  # fmt: skip
        self._capture, self._latest, self._ended, self.dropped_frames = capture, None, False, 0
        self.lost_after_s, self._end_error = 0.0, None
        self._last_frame_s, self.stalls = None, 0
        self._stall_log = StallLog(self.label)
        self._stop.clear()
        self._thread = threading.Thread(target=self._grab_loop, name=self.label.replace(" ", "-"), daemon=True)
        self._thread.start()

    def _configure(self, capture: cv2.VideoCapture) -> cv2.VideoCapture:
        """Ask ``capture`` for the size and rate wanted; returns it."""
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, self.height),
            (cv2.CAP_PROP_FPS, self.fps),
        ):
            if value:
                capture.set(prop, value)
        return capture

    def _grab_loop(self) -> None:
        """:meth:`_grab_frames`, ended whatever happens: a capture that raised (a backend's
        ``cv2.error``) ended the thread alone, and ``read`` waited on a stall for ever (review)."""
        try:
            self._grab_frames()
        except Exception as exc:  # noqa: BLE001 (said by read(), on the caller's thread)
            log.debug("%s: reading failed", self.label, exc_info=True)
            self._end_error = (f"{self.label} failed while reading ({type(exc).__name__}: {one_line(exc)}); check the "
                               "device or stream and run again")  # fmt: skip (cv2.error's text spans lines: review)
        finally:
            with self._ready:
                self._ended = True
                self._ready.notify_all()

    def _grab_frames(self) -> None:
        frame_id, failures, pause_s, reopening = 0, 0, _FIRST_PAUSE_S, False
        opened_s = time.monotonic()
        # The delivered rate's count: from frame rate_from_id at rate_from_s (None: not counting);
        # taken once, and again after each stall (a restarted camera or server may deliver another
        # rate; QA: a stream back at 5 fps was still said to be at 29.97)
        rate_from_s: float | None = None
        rate_from_id, rate_measured = _RATE_SKIP_FRAMES, False
        rate_windows_fps: list[float] = []  # the windows measured since the count began
        windows_needed = 1  # before the rate is reported: 2 that agree after a stall
        while not self._stop.is_set():
            ok, image = self._capture.read()
            if (not ok or image is None) and self.file_frames:  # a file ends, and is not reopened from its start
                if frame_id == 0:  # (QA: no frame, exit 0) an index at the file's end, which the server cannot reach
                    self._end_error = (f"{self.label} gave no frame of the {self.file_frames} its file counts: the "
                                       "server may not let a reader jump within the file, and its index is at the "
                                       "end; download the file and pass it, or put its index first (ffmpeg -i IN -c "
                                       "copy -movflags +faststart OUT.mp4)")  # fmt: skip
                elif frame_id + FRAME_COUNT_SLACK < self.file_frames:
                    log.warning("%s broke off at frame %d of the %d its file counts: the run ends there (download "
                                "the file and pass it to read it whole)", self.label, frame_id,
                                self.file_frames)  # fmt: skip
                break
            if not ok or image is None:
                failures += 1
                silent_s = time.monotonic() - (self._last_frame_s or opened_s)
                if silent_s >= self.max_stall_s:
                    log.warning("%s delivered no frame for %.0f s: the stream ends", self.label, silent_s)
                    self.lost_after_s = silent_s
                    break
                if failures < self.max_read_failures or silent_s < self.stall_report_s:
                    self._stop.wait(0.01)  # a blip: try again at once
                    continue
                if not reopening:
                    reopening = True
                    with self._ready:
                        self._stall_said = True
                    if self._stall_log.started():  # (read() may have said it began: this says how it goes on)
                        log.warning("%s stopped delivering frames: reopening it until it comes back (at most %.0f s)",
                                    self.label, self.max_stall_s)  # fmt: skip
                self._stop.wait(pause_s)
                pause_s = min(2 * pause_s, _MAX_PAUSE_S)
                self._reopen()
                continue
            with self._ready:
                said, self._stall_said = self._stall_said, False
            if reopening or said:
                self.stalls += 1
                rate_from_s, rate_from_id, rate_measured = None, frame_id + _RATE_SKIP_FRAMES, False
                rate_windows_fps, windows_needed = [], 2
                silent_s = time.monotonic() - (self._last_frame_s or opened_s)
                if self._stall_log.ended(silent_s):
                    log.warning("%s is back after %.1f s without frames", self.label, silent_s)
            else:
                self._stall_log.tick()
            failures, pause_s, reopening = 0, _FIRST_PAUSE_S, False
            self._pace(frame_id)
            captured_ns = time.monotonic_ns()
            if not rate_measured and frame_id == rate_from_id:
                rate_from_s = captured_ns / 1e9
            elif rate_from_s is not None and captured_ns / 1e9 - rate_from_s >= RATE_MEASURE_S:
                counted_s = captured_ns / 1e9 - rate_from_s
                rate_windows_fps.append((frame_id - rate_from_id) / counted_s)
                if _rate_settled(rate_windows_fps, windows_needed):
                    self._measured_rate(frame_id - rate_from_id, counted_s)  # the last window's
                    rate_from_s, rate_measured = None, True
                else:  # the next window starts at this frame
                    rate_from_s, rate_from_id = captured_ns / 1e9, frame_id
            frame = Frame(frame_id, captured_ns, image, self.source_fps)
            frame_id += 1
            with self._ready:
                if self._latest is not None:
                    self.dropped_frames += 1
                self._latest = frame
                self._last_frame_s = time.monotonic()
                self._ready.notify_all()

    def _pace(self, frame_id: int) -> None:
        """Wait until frame ``frame_id`` is due: a file behind a stream's address plays at its rate,
        as a live stream of it would; a live source's frames are taken as they come."""
        if self._file_pacer is not None:
            self._file_pacer.wait(frame_id)

    def _measured_rate(self, frames: int, seconds: float) -> None:
        """Report the delivered rate instead of the claimed one when they differ (see
        :data:`RATE_MEASURE_S`); the stream's meta then carries it."""
        fps = delivered_fps(self.source_fps, frames, seconds)
        if fps != self.source_fps:
            claimed = f"claims {self.source_fps:.4g} fps" if self.source_fps > 0 else "claims no rate"
            log.info("%s %s and delivers %.4g fps: reporting %.4g", self.label, claimed, fps, fps)
            self.source_fps = fps

    def _stall_log_s(self) -> float:
        """How long without a frame the log calls a stall: ``stall_report_s``, or three frame
        intervals of a source slower than that (a 1 fps stream is not stalled between frames)."""
        return max(self.stall_report_s, 3.0 / self.source_fps) if self.source_fps > 0 else self.stall_report_s

    def _reopen(self) -> None:
        """Release the device and open it again (a replugged USB camera needs it); a device
        that does not open yet is tried again on the next round."""
        self._capture.release()
        try:
            self._capture = self._configure(self._open_capture())
        except SourceError as exc:
            log.debug("%s: reopening failed: %s", self.label, exc)

    def read(self) -> Frame | None:
        """Block until a frame newer than the last one returned arrives and return it.

        Returns ``None`` once the camera has given up (no frame for ``max_stall_s``); raises
        :class:`SourceStalledError` when no frame has come for ``stall_report_s`` (again after every
        ``stall_report_s`` while that lasts; the device is being reopened), and
        :class:`SourceError` when the camera is not open or sends no first frame within
        ``read_timeout_s``.
        """
        if self._thread is None:
            raise SourceError(f"{self.label} is not open: call open() or use `with`")
        called_s = time.monotonic()
        with self._ready:
            while self._latest is None and not self._ended:
                now = time.monotonic()
                if self._last_frame_s is None:  # no frame yet: the device may just be slow to start
                    deadline = called_s + self.read_timeout_s
                    if now >= deadline:
                        raise SourceError(f"{self.label} delivered no frame in {self.read_timeout_s:g} s: "
                                          f"{self._no_frame_hint}")  # fmt: skip
                else:  # frames came before: a stall, reported every stall_report_s
                    deadline = max(called_s, self._last_frame_s) + self.stall_report_s
                    if now >= deadline:
                        stalled_s = now - self._last_frame_s
                        message = f"{self.label} has delivered no frame for {stalled_s:.1f} s"
                        # said here too: a hung read never reaches the grab loop's reopening
                        if not self._stall_said and stalled_s >= self._stall_log_s():
                            self._stall_said = True
                            if self._stall_log.started():
                                log.warning("%s; waiting for it (at most %.0f s)", message, self.max_stall_s)
                        raise SourceStalledError(message, stalled_s)
                self._ready.wait(deadline - now)
            if self._latest is None and self._end_error is not None:
                raise SourceError(self._end_error)
            frame, self._latest = self._latest, None
            return frame

    def close(self) -> None:
        self._stop.set()
        stuck = False
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            stuck = self._thread.is_alive()  # blocked inside the capture's read (a hung stream)
            self._thread = None
            self._stall_log.close()
        if self._capture is not None:
            if stuck:  # releasing a capture another thread is reading is not safe: the process's end frees it
                log.warning("%s: its reading thread is still blocked in the device; left to the process's end",
                            self.label)  # fmt: skip
            else:
                self._capture.release()
            self._capture = None
