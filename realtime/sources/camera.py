"""A live camera, read on its own thread that keeps only the newest frame.

A frame the pipeline had no time to take is dropped and counted in ``dropped_frames``, never
queued, so latency cannot build up. Frames carry their capture time.
"""

from __future__ import annotations

import logging
import re
import threading
import time

import cv2

from ..errors import SourceError
from ..stages import FrameSource
from ..types import Frame

log = logging.getLogger(__name__)


class CameraSource(FrameSource):
    """A live camera read on its own thread that keeps only the newest frame.

    ``frame_id`` counts every captured frame, so ids returned by :meth:`read` skip those that
    were dropped. The stream ends (``read()`` returns ``None``) after ``max_read_failures``
    consecutive failed grabs, e.g. when the camera is unplugged.
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
    ) -> None:
        self.index = index
        self.width, self.height, self.fps = width, height, fps
        self.read_timeout_s = read_timeout_s
        self.max_read_failures = max_read_failures
        self.dropped_frames = 0
        self._capture: cv2.VideoCapture | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._ready = threading.Condition()
        self._latest: Frame | None = None
        self._ended = False

    @classmethod
    def from_spec(cls, spec: str, realtime: bool = False) -> CameraSource | None:
        """A camera index (``0``) or a Linux video device (``/dev/video2``, i.e. index 2)."""
        device = re.fullmatch(r"/dev/video(\d+)", spec)
        if device is not None:
            return cls(int(device.group(1)))
        return cls(int(spec)) if spec.isdigit() else None

    @property
    def label(self) -> str:
        """How messages name this source."""
        return f"camera {self.index}"

    def _open_capture(self) -> cv2.VideoCapture:
        """The opened capture; raises :class:`SourceError` when it does not open."""
        capture = cv2.VideoCapture(self.index)
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"camera index {self.index} did not open: list the cameras with "
                "`ls /dev/video*` (or `v4l2-ctl --list-devices`) and pass one of their indices"
            )
        return capture

    def open(self) -> None:
        capture = self._open_capture()
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, self.height),
            (cv2.CAP_PROP_FPS, self.fps),
        ):
            if value:
                capture.set(prop, value)
        self.source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        if self.width or self.height or self.fps:  # the device may pick its nearest mode: say which
            asked = f"{self.width or '?'}x{self.height or '?'} at {self.fps or '?'} fps"
            log.info("%s: asked for %s, delivers %dx%d at %.4g fps", self.label, asked,
                     int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                     self.source_fps)  # fmt: skip
        self._capture, self._latest, self._ended, self.dropped_frames = capture, None, False, 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._grab_loop, name=self.label.replace(" ", "-"), daemon=True)
        self._thread.start()

    def _grab_loop(self) -> None:
        frame_id, failures = 0, 0
        while not self._stop.is_set():
            ok, image = self._capture.read()
            if not ok or image is None:
                failures += 1
                if failures >= self.max_read_failures:
                    log.warning("%s stopped delivering frames", self.label)
                    break
                self._stop.wait(0.01)
                continue
            failures = 0
            frame = Frame(frame_id, time.monotonic_ns(), image, self.source_fps)
            frame_id += 1
            with self._ready:
                if self._latest is not None:
                    self.dropped_frames += 1
                self._latest = frame
                self._ready.notify_all()
        with self._ready:
            self._ended = True
            self._ready.notify_all()

    def read(self) -> Frame | None:
        """Block until a frame newer than the last one returned arrives and return it.

        Returns ``None`` once the camera has stopped delivering; raises :class:`SourceError`
        when the camera is not open or sends nothing within ``read_timeout_s``.
        """
        if self._thread is None:
            raise SourceError(f"{self.label} is not open: call open() or use `with`")
        with self._ready:
            got = self._ready.wait_for(lambda: self._latest is not None or self._ended, self.read_timeout_s)
            if not got:
                raise SourceError(
                    f"{self.label} delivered no frame in {self.read_timeout_s:g} s: is another program using it?"
                )
            frame, self._latest = self._latest, None
            return frame

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._capture is not None:
            self._capture.release()
            self._capture = None
