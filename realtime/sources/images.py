"""A folder of images in name order, each one frame at a nominal rate."""

from __future__ import annotations

from pathlib import Path

import cv2

from ...engines.media import IMAGE_SUFFIXES
from ..errors import SourceError
from ..types import Frame
from .files import FileSource, Pacer


class ImageFolderSource(FileSource):
    """The images of a folder in name order, each one frame at a nominal ``fps``."""

    name = "images"

    def __init__(self, path: str | Path, realtime: bool = False, fps: float = 30.0) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self.source_fps = float(fps)
        self._files: list[Path] | None = None
        self._next_id = 0
        self._pacer: Pacer | None = None

    @classmethod
    def from_spec(cls, spec: str, realtime: bool = False) -> ImageFolderSource | None:
        path = Path(spec).expanduser()
        return cls(path, realtime=realtime) if path.is_dir() else None

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"image folder {self.path} does not exist")
        files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise SourceError(
                f"image folder {self.path} holds no images: expected files ending in {', '.join(IMAGE_SUFFIXES)}"
            )
        self._files, self._next_id, self.frame_count = files, 0, len(files)
        self._pacer = Pacer(self.source_fps) if self.realtime else None

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
