"""A folder of images in name order (numbers by value), each one frame at a nominal rate; or one
image file, one frame (read as a photo: its EXIF orientation applied, as in a folder; through the
video decoder a phone's portrait photo was posed sideways, exit 0, QA).

The folder is listed once, when the source opens: images added later are not read. An image
OpenCV cannot decode (empty, corrupt, not really an image, removed since) is skipped and counted in
``skipped_images`` (the first is logged, the count at the end); its frame id is left out, so
the others keep their place in time. A folder where no image decodes is an error. Only regular
files are images (a folder named ``x.jpg`` is not one). Images of different sizes are read as
they are: the first that differs from the first image's size is logged as a warning, once (the
lifting sets the intrinsics for each size it meets and logs them once per size). With a camera
file (:attr:`ImageFolderSource.intrinsics`, ``--intrinsics``) an image of a size it cannot be
rescaled to is skipped and counted as an unreadable one is (QA: the run failed at it, after its
outputs had been made from the images before).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from ...calibration import CalibrationError, CameraIntrinsics
from ...engines.fileio import input_file_problem, input_folder_problem
from ...engines.media import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    ImageTooLargeError,
    image_files,
    read_image,
    unread_photos_notice,
)
from ..errors import SourceError
from ..types import Frame
from .files import FileSource, Pacer

log = logging.getLogger(__name__)


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
        #: Images that could not be decoded and were skipped.
        self.skipped_images = 0
        self._index = 0
        self._emitted = 0
        self._first: tuple[Path, tuple[int, int]] | None = None  # the first decoded image and its size
        self._sizes_differ = False
        #: The camera file the images are lifted with (``--intrinsics``): images of a size it cannot
        #: be rescaled to are skipped (``None``: every size is lifted with intrinsics of its own).
        self.intrinsics: CameraIntrinsics | None = None

    @classmethod
    def from_spec(cls, spec: str, realtime: bool = False) -> ImageFolderSource | None:
        path = Path(spec).expanduser()
        return cls(path, realtime=realtime) if path.is_dir() or _one_photo(path) else None

    def open(self) -> None:
        if _one_photo(self.path):
            if (problem := input_file_problem(self.path)) is not None:
                raise SourceError(f"image {self.path} {problem}")
            files, photos = [self.path], []
        elif (problem := input_folder_problem(self.path)) is not None:
            raise SourceError(f"image folder {self.path} {problem}")
        else:
            files, photos = image_files(self.path)
        if photos:  # left out: said, not silently (an iPhone's photos are .heic)
            log.warning("%s", unread_photos_notice(self.path, photos))
        if not files:
            videos = sorted(p.name for p in self.path.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
            if videos:  # (footage QA: a folder of clips was told only which image endings it lacked)
                raise SourceError(f"folder {self.path} holds no images but {len(videos)} video file(s) (e.g. "
                                  f"{videos[0]}): pass one video as the source (posecast adapt takes the folder)")
            raise SourceError(
                f"image folder {self.path} holds no images: expected files ending in {', '.join(IMAGE_SUFFIXES)}"
            )
        self._files, self._next_id, self.frame_count = files, 0, len(files)
        self._index = self._emitted = self.skipped_images = self.dropped_frames = 0
        self._first, self._sizes_differ = None, False
        self._first_skip: tuple[Path, str] | None = None  # the first image skipped and why, until said
        self._pacer = Pacer(self.source_fps) if self.realtime else None

    def read(self) -> Frame | None:
        if self._files is None:
            raise SourceError(f"image folder {self.path} is not open: call open() or use `with`")
        skip = min(self._behind(self._index), len(self._files) - self._index)  # --realtime, behind: skip, not decode
        self._index += skip
        self.dropped_frames += skip
        while self._index < len(self._files):
            path = self._files[self._index]
            self._index += 1
            try:
                image = read_image(path)
            except ImageTooLargeError as exc:
                self._skip(path, str(exc))
                continue
            if image is None:
                self._skip(path)
                continue
            if (misfit := self._misfit(image)) is not None:
                self._skip(path, misfit)
                continue
            self._check_size(path, image)
            self._next_id = self._index - 1  # the image's place in the folder (a skipped one leaves a gap)
            self._emitted += 1
            self._say_first_skip()  # once an image was read: else the error says it
            return self._emit(image)
        if not self._emitted and self._first_skip is not None:
            # the first one's reason, whose fix is not always a conversion (QA: "convert them to PNG
            # or JPEG" for a PNG too large to decode)
            first, why = self._first_skip
            others = f" (and {self.skipped_images - 1} more)" if self.skipped_images > 1 else ""
            fix = ": convert them to PNG or JPEG" if why == _UNDECODED else ""
            raise SourceError(f"no image in {self.path} could be read: {first.name}{others}: {why}{fix}")
        return None

    def _misfit(self, image: np.ndarray) -> str | None:
        """Why the camera file cannot serve ``image``'s size, if it cannot."""
        if self.intrinsics is None:
            return None
        try:
            self.intrinsics.rescaled(image.shape[1], image.shape[0])
        except CalibrationError as exc:
            return f"the camera file (--intrinsics) does not fit it: {exc}"
        return None

    def _check_size(self, path: Path, image: np.ndarray) -> None:
        size = (image.shape[1], image.shape[0])
        if self._first is None:
            self._first = (path, size)
        elif size != self._first[1] and not self._sizes_differ:
            self._sizes_differ = True
            first, (w, h) = self._first
            how = "the camera file rescaled to its size" if self.intrinsics else "the intrinsics of its own size"
            log.warning("images in %s differ in size: %s is %dx%d, %s was %dx%d; each is lifted with %s (warned "
                        "once, not for every image)", self.path, path.name, *size, first.name, w, h, how)  # fmt: skip

    def _skip(self, path: Path, why: str | None = None) -> None:
        if not self.skipped_images:
            problem = input_file_problem(path) if why is None else None
            if problem == "does not exist" and path.is_symlink():
                why = f"it is a link to nothing ({os.readlink(path)} is not there)"
            elif problem == "does not exist":  # removed since the folder was listed
                why = "it no longer exists (removed while the run read the folder)"
            elif problem is not None:  # unreadable: not the image's fault
                why = f"it {problem}"
            elif why is None:
                why = _UNDECODED
            if path == self.path:  # one image given: the error names it, with this reason (review)
                raise SourceError(f"image {path}: {why}; pass a readable image (PNG or JPEG)")
            self._first_skip = (path, why)
        self.skipped_images += 1

    def _say_first_skip(self) -> None:
        if self._first_skip is not None:
            log.warning("skipped %s: %s; later ones are counted", *self._first_skip)
            self._first_skip = None

    def close(self) -> None:
        if self._files is not None and self._emitted:  # one after the last image read
            self._say_first_skip()
        if self._files is not None and self.skipped_images and self._emitted:  # (none read: the error says so)
            fit = ", or of a size the camera file does not fit" if self.intrinsics else ""
            log.warning("%d of %d images in %s could not be read (removed, links to nothing, unreadable, empty, "
                        "corrupt or too large%s) and were skipped", self.skipped_images, len(self._files), self.path,
                        fit)  # fmt: skip
        self._files = None


#: Why an image was skipped when OpenCV hands back nothing
_UNDECODED = "OpenCV could not decode it (empty, corrupt or cut short?)"


def _one_photo(path: Path) -> bool:
    """Whether ``path`` is one image file (an animated GIF is a video: all its frames are read)."""
    suffix = path.suffix.lower()
    return suffix in IMAGE_SUFFIXES and suffix != ".gif" and path.is_file()
