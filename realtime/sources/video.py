"""A video file, frame by frame (nothing is ever dropped)."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from ..errors import SourceError
from ..types import Frame
from .files import FileSource, Pacer

log = logging.getLogger(__name__)


class VideoFileSource(FileSource):
    """Frames of a video file, in order. ``read()`` blocks only while decoding (and, with
    ``realtime=True``, until the frame's time at the file's native fps has come)."""

    name = "video"

    def __init__(self, path: str | Path, realtime: bool = False) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self._capture: cv2.VideoCapture | None = None
        self._next_id = 0
        self._pending: np.ndarray | None = None
        self._pacer: Pacer | None = None

    @classmethod
    def from_spec(cls, spec: str, realtime: bool = False) -> VideoFileSource | None:
        path = Path(spec).expanduser()
        return cls(path, realtime=realtime) if path.exists() and not path.is_dir() else None

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
        self.frame_count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        self._pacer = Pacer(self.source_fps) if self.realtime else None
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
