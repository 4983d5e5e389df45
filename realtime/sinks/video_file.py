"""Video files that play in a web browser, at the rate they were captured.

The codec follows the file name and what is installed (measured, 1152×576 view frames, 2-core
VM; ``README`` Output video):

=========  =====================================================  ==========================  ===========
suffix     codec                                                  plays in browsers           ms/frame
=========  =====================================================  ==========================  ===========
``.mp4``   H.264 (libx264, ``veryfast``, CRF 23, yuv420p) via      yes                         ~11
           PyAV, when installed (``pip install "posecast[video]"``)
``.mp4``   MPEG-4 part 2 (``mp4v``) via OpenCV, without PyAV       **no** (a warning says so)  ~5
``.webm``  VP8 via OpenCV (no extra install)                      yes                         ~45
=========  =====================================================  ==========================  ===========

OpenCV's own wheel cannot write H.264 (its FFmpeg has no H.264 encoder: ``avc1``, ``H264`` and
``X264`` do not open) and its VP9 takes ~460 ms a frame; PyAV's wheel brings FFmpeg with x264
(GPL) and libvpx, about 100 MB installed, so it is an optional extra. Files are written under a
temporary name and renamed when finished (:func:`posecast.engines.fileio.atomic_path`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ...engines.errors import PosecastError
from ...engines.fileio import atomic_path
from ...engines.install import install_hint
from ...engines.media import opencv_path_problem
from ..detectors.quiet import quiet_native_stderr

log = logging.getLogger(__name__)

#: File name endings a view video may have.
VIDEO_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".mkv", ".webm")


class VideoFileError(PosecastError):
    """The video file cannot be written."""


class VideoWriter(Protocol):
    """An open video file: ``write(image_bgr)`` frame by frame, ``close()`` to finish it."""

    codec: str
    browser_playable: bool

    def write(self, image_bgr: np.ndarray) -> None: ...

    def close(self) -> None: ...


def h264_available() -> bool:
    """Whether PyAV (H.264 through libx264) is installed."""
    return importlib.util.find_spec("av") is not None


def default_video_path(stem: str) -> Path:
    """``STEM.mp4`` when H.264 can be written, else ``STEM.webm`` (VP8): a file a browser plays."""
    return Path(f"{stem}.mp4" if h264_available() else f"{stem}.webm")


def check_video_path(path: Path) -> Path:
    """``path`` when its suffix names a video format posecast writes, and OpenCV can take its
    name where OpenCV writes it (checked before the run)."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        h264 = "H.264" if h264_available() else f"H.264 with PyAV: {install_hint('video')}"
        raise VideoFileError(
            f"cannot write the view video to {path}: use a name ending in .mp4 ({h264}), .mov or .mkv, or .webm "
            "(VP8, no extra install); .mp4 and .webm play in web browsers"
        )
    problem = opencv_path_problem(path) if path.suffix.lower() == ".webm" or not h264_available() else None
    if problem is not None:
        raise VideoFileError(f"cannot write the view video to {problem}")
    return path


def open_video(path: Path, size: tuple[int, int], fps: float) -> VideoWriter:
    """A writer for ``path`` (``size`` = (width, height) pixels, ``fps`` frames per second): H.264
    via PyAV for .mp4/.mov/.mkv when installed, else OpenCV (VP8 for .webm, mp4v otherwise)."""
    path = check_video_path(Path(path))
    if not fps > 0:
        raise VideoFileError(f"video frame rate must be > 0, got {fps}")
    if path.suffix.lower() != ".webm" and h264_available():
        return _PyAvH264(path, size, fps)
    return _OpenCvWriter(path, size, fps)


class _PyAvH264:
    """H.264 in an MP4 (or MOV/MKV) through PyAV: yuv420p (what browsers decode), moov atom first."""

    codec = "H.264"

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        import av

        mp4 = path.suffix.lower() == ".mp4"
        self.browser_playable = mp4  # browsers play H.264 in MP4; MOV and MKV only in some

        self._av = av
        self._path = path
        self._file = contextlib.ExitStack()
        self._failed = False  # a write raised: close() must not touch the encoder again
        temporary = self._file.enter_context(atomic_path(path))
        try:
            # the index first, so playback can start before the whole file is read (MP4 and MOV only)
            options = {"movflags": "+faststart"} if path.suffix.lower() in (".mp4", ".mov") else {}
            self._container = av.open(str(temporary), mode="w", options=options)
            rate = Fraction(fps).limit_denominator(1001)
            self._stream = self._container.add_stream("libx264", rate=rate)
            width, height = size
            # yuv420p needs even sizes: the encoder gets the frame cropped by at most one pixel
            self._size = (width - width % 2, height - height % 2)
            self._stream.width, self._stream.height = self._size
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"preset": "veryfast", "crf": "23"}
        except Exception as exc:  # PyAV's errors are many types; one line for the user
            self._file.__exit__(type(exc), exc, None)  # removes the temporary file
            raise VideoFileError(f"cannot write the view video to {path}: PyAV could not start H.264 ({exc})") from exc

    def write(self, image_bgr: np.ndarray) -> None:
        width, height = self._size
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image_bgr[:height, :width]), format="bgr24")
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except BaseException as exc:  # any failure: close() must not flush the encoder after it
            self._failed = True
            if isinstance(exc, OSError):  # e.g. a full disk: its raw line named the hidden temporary file
                raise self._cannot_write(exc) from exc
            raise

    def close(self) -> None:
        if self._failed:  # the error was raised from write; flushing x264 after a failed mux crashes PyAV 18
            self._discard(None)
            return
        try:
            for packet in self._stream.encode():  # flush
                self._container.mux(packet)
            self._container.close()
        except BaseException as exc:
            self._discard(exc)
            if isinstance(exc, OSError):
                raise self._cannot_write(exc) from exc
            raise
        self._file.close()  # renames the finished file into place

    def _discard(self, exc: BaseException | None) -> None:
        """Close the container without flushing the encoder (the only close PyAV survives after a
        failed write) and remove the temporary file."""
        with contextlib.suppress(Exception):
            self._container.close()
        self._file.__exit__(type(exc) if exc else VideoFileError, exc, None)  # removes the temporary file

    def _cannot_write(self, exc: OSError) -> VideoFileError:
        return VideoFileError(f"cannot write the view video {self._path} ({exc.strerror or exc}): check the "
                              "folder's free space, or pass --output-video elsewhere; nothing written")  # fmt: skip


class _OpenCvWriter:
    """OpenCV's FFmpeg writer: VP8 in WebM (browsers play it) or mp4v (they do not)."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float) -> None:
        webm = path.suffix.lower() == ".webm"
        self.codec = "VP8" if webm else "MPEG-4 part 2 (mp4v)"
        self.browser_playable = webm
        self._file = contextlib.ExitStack()
        self._path = path
        self._temporary = temporary = self._file.enter_context(atomic_path(path))
        self._frames = 0
        # OpenCV prints a line about WebM's codec tag straight to stderr when it opens: hidden
        with quiet_native_stderr():
            self._writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*("VP80" if webm else "mp4v")),
                                           fps, size)  # fmt: skip
        if not self._writer.isOpened():
            self._file.__exit__(VideoFileError, None, None)  # removes the temporary file
            raise VideoFileError(f"cannot write the view video to {path}: OpenCV could not open a {self.codec} writer")
        self._size = size
        if not webm:
            log.warning("%s: mp4v does not play in web browsers; for H.264 `%s`, or name the file .webm (VP8)",
                        path, install_hint("video"))  # fmt: skip

    def write(self, image_bgr: np.ndarray) -> None:
        if (image_bgr.shape[1], image_bgr.shape[0]) != self._size:
            image_bgr = cv2.resize(image_bgr, self._size)
        self._writer.write(image_bgr)
        self._frames += 1

    def close(self) -> None:
        self._writer.release()
        # OpenCV's writer says nothing when the disk fills up: read the last frame back first
        if self._frames and not _last_frame_readable(self._temporary, self._frames):
            self._file.__exit__(VideoFileError, None, None)  # removes the temporary file
            raise VideoFileError(f"cannot finish the view video {self._path}: its last frames did not reach the "
                                 "disk (is it full?): free space on it, or pass --output-video elsewhere; nothing "
                                 "written")  # fmt: skip
        self._file.close()  # renames the finished file into place


def _last_frame_readable(path: Path, frames: int) -> bool:
    """Whether frame ``frames - 1`` of the video at ``path`` decodes (one seek: cheap even for
    an hour of video)."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            return False
        capture.set(cv2.CAP_PROP_POS_FRAMES, frames - 1)
        ok, _ = capture.read()
        # a truncated file seeks "successfully" to its start: check where the read ended
        return bool(ok) and capture.get(cv2.CAP_PROP_POS_FRAMES) >= frames - 1
    finally:
        capture.release()
