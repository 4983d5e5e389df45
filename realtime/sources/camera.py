"""Frame sources: a webcam, a video file or a folder of images behind one small interface.

Every source is used the same way::

    with open_source("0") as source:          # or a video path, or an image folder
        while (frame := source.read()) is not None:
            ...

``open()`` acquires the device or file (``with`` calls it), ``read()`` returns the next
:class:`~posecast.realtime.types.Frame` or ``None`` at the end of the stream, ``close()``
releases everything and may be called twice. Failures raise
:class:`~posecast.realtime.errors.SourceError` with a one-line message.

A live camera is read on its own thread that keeps only the newest frame: a frame the
pipeline had no time to take is dropped and counted in ``dropped_frames``, never queued, so
latency cannot build up. Files are read frame by frame (nothing is ever dropped); with
``realtime=True`` they are paced at their native frame rate, as a camera would deliver them.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from .errors import SourceError
from .types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


class FrameSource:
    """Base of all sources: ``open() / read() -> Frame | None / close()`` and ``with`` use."""

    #: Frames captured but never returned by :meth:`read` (live cameras only).
    dropped_frames: int = 0
    #: Nominal frame rate of the source (0.0 when unknown).
    source_fps: float = 0.0

    def open(self) -> None:
        """Acquire the device or file. Raises :class:`SourceError` when it cannot be read."""
        raise NotImplementedError

    def read(self) -> Frame | None:
        """Return the next frame, or ``None`` at the end of the stream."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file (safe to call more than once)."""
        raise NotImplementedError

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Pacer:
    """Sleeps so that frame ``i`` is returned no earlier than ``i / fps`` after the first."""

    def __init__(self, fps: float) -> None:
        self.period_ns = int(1e9 / fps) if fps > 0 else 0
        self.start_ns: int | None = None

    def wait(self, index: int) -> None:
        now = time.monotonic_ns()
        if self.start_ns is None:
            self.start_ns = now
        delay_ns = self.start_ns + index * self.period_ns - now
        if delay_ns > 0:
            time.sleep(delay_ns / 1e9)


class _FileSource(FrameSource):
    """Shared by file-like sources: numbered frames, optionally paced at the native fps."""

    _next_id: int = 0
    _pacer: _Pacer | None = None

    def _emit(self, image: np.ndarray) -> Frame:
        if self._pacer is not None:
            self._pacer.wait(self._next_id)
        frame = Frame(self._next_id, time.monotonic_ns(), image, self.source_fps)
        self._next_id += 1
        return frame


class VideoFileSource(_FileSource):
    """Frames of a video file, in order. ``read()`` blocks only while decoding (and, with
    ``realtime=True``, until the frame's time at the file's native fps has come)."""

    def __init__(self, path: str | Path, realtime: bool = False) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self._capture: cv2.VideoCapture | None = None
        self._next_id = 0
        self._pending: np.ndarray | None = None
        self._pacer: _Pacer | None = None

    def open(self) -> None:
        if not self.path.is_file():
            raise SourceError(
                f"video file {self.path} does not exist: pass an existing video, a folder of images or a camera index"
            )
        capture = cv2.VideoCapture(str(self.path))
        ok, image = capture.read() if capture.isOpened() else (False, None)
        if not ok or image is None:
            capture.release()
            raise SourceError(
                f"OpenCV could not decode video {self.path}: expected a readable video "
                "(mp4/avi/mkv...); re-encode it, e.g. with ffmpeg -i IN -c:v libx264 OUT.mp4"
            )
        self._capture, self._pending, self._next_id = capture, image, 0
        self.source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._pacer = _Pacer(self.source_fps) if self.realtime else None
        log.debug("opened %s at %.2f fps", self.path, self.source_fps)

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceError(f"video {self.path} is not open: call open() or use `with`")
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            ok, image = self._capture.read()
            if not ok or image is None:
                return None
        return self._emit(image)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class ImageFolderSource(_FileSource):
    """The images of a folder in name order, each one frame at a nominal ``fps``."""

    def __init__(self, path: str | Path, realtime: bool = False, fps: float = 30.0) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self.source_fps = float(fps)
        self._files: list[Path] | None = None
        self._next_id = 0
        self._pacer: _Pacer | None = None

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"image folder {self.path} does not exist")
        files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(
                f"image folder {self.path} holds no images: expected files ending in {', '.join(IMAGE_SUFFIXES)}"
            )
        self._files, self._next_id = files, 0
        self._pacer = _Pacer(self.source_fps) if self.realtime else None

    def read(self) -> Frame | None:
        if self._files is None:
            raise SourceError(f"image folder {self.path} is not open: call open() or use `with`")
        if self._next_id >= len(self._files):
            return None
        path = self._files[self._next_id]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"OpenCV could not decode image {path}: remove it or convert it to PNG/JPEG")
        return self._emit(image)

    def close(self) -> None:
        self._files = None


class CameraSource(FrameSource):
    """A live camera read on its own thread that keeps only the newest frame.

    ``frame_id`` counts every captured frame, so ids returned by :meth:`read` skip those that
    were dropped. The stream ends (``read()`` returns ``None``) after ``max_read_failures``
    consecutive failed grabs, e.g. when the camera is unplugged.
    """

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

    def open(self) -> None:
        capture = cv2.VideoCapture(self.index)
        if not capture.isOpened():
            capture.release()
            raise SourceError(
                f"camera index {self.index} did not open: list the cameras with "
                "`ls /dev/video*` (or `v4l2-ctl --list-devices`) and pass one of their indices"
            )
        for prop, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self.width),
            (cv2.CAP_PROP_FRAME_HEIGHT, self.height),
            (cv2.CAP_PROP_FPS, self.fps),
        ):
            if value:
                capture.set(prop, value)
        self.source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._capture, self._latest, self._ended, self.dropped_frames = capture, None, False, 0
        self._stop.clear()
        self._thread = threading.Thread(target=self._grab_loop, name=f"camera-{self.index}", daemon=True)
        self._thread.start()

    def _grab_loop(self) -> None:
        frame_id, failures = 0, 0
        while not self._stop.is_set():
            ok, image = self._capture.read()
            if not ok or image is None:
                failures += 1
                if failures >= self.max_read_failures:
                    log.warning("camera %d stopped delivering frames", self.index)
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
            raise SourceError(f"camera {self.index} is not open: call open() or use `with`")
        with self._ready:
            got = self._ready.wait_for(lambda: self._latest is not None or self._ended, self.read_timeout_s)
            if not got:
                raise SourceError(
                    f"camera {self.index} delivered no frame in {self.read_timeout_s:g} s: is another program using it?"
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


def open_source(spec: str | int, realtime: bool = False) -> FrameSource:
    """Pick the source for ``spec``: an int or digit string is a camera index, a folder is an
    image folder, anything else a video file. The source is returned unopened (use ``with``).

    ``realtime`` paces files at their native fps; a camera is live anyway.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec))
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, realtime=realtime)
    if not path.exists():
        raise SourceError(
            f"source {spec!r} is neither a camera index (e.g. 0), an existing video file nor a folder of images"
        )
    return VideoFileSource(path, realtime=realtime)
