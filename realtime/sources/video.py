"""A video file, frame by frame (nothing is dropped, but with ``realtime`` the frames a slow
pipeline is too late for, as a camera drops them).

A damaged file is read as far as it goes: a frame the decoder cannot read, where the header
counts more frames, is skipped, and its number and media time stay used (the temporal stages
see a gap); the first damaged place is logged, the others counted in one total at the end, as an
image folder's unreadable images are. The numbers after damage are counted from the failed reads, which
is only as good as the decoder's account: an H.264 decoder that loses reference frames drops a
few more without failing a read (the dance clip with 20 kB zeroed: the frames after it are
numbered up to 5 too low), and a Motion-JPEG one may skip damaged frames silently. A file that
ends before the header's count ends with a warning naming the frame it reached. Both were silent
before: a run stopped at the first damaged frame with exit 0.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from ...engines.fileio import input_file_problem
from ...engines.media import opencv_path_problem
from ..errors import SourceError
from ..types import Frame
from .files import FileSource, Pacer

log = logging.getLogger(__name__)


#: A file may end this many frames short of its header's count without a warning (a container's
#: count can be approximate).
FRAME_COUNT_SLACK = 2
#: This many frames in a row that cannot be read end the video, whatever its header counts (QA: a
#: header claiming 2·10⁹ frames kept a 10-frame file reading nothing at 100 % CPU for half an hour).
MAX_UNREADABLE_RUN = 1000


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
        #: frames the decoder could not read, skipped (module docstring)
        self.damaged_frames = 0
        self._damaged_places = 0  # runs of damaged frames: the first is logged, the total at close
        self._damaged_until = -1  # the frame after the last damaged one (a run goes on from there)
        self._first_ms = 0.0  # the first frame's presentation time (ms)
        self._variable_rate = False  # frames carry their presentation times (_media_ns)
        self._last_media_ns: int | None = None

    @classmethod
    def from_spec(cls, spec: str, realtime: bool = False) -> VideoFileSource | None:
        path = Path(spec).expanduser()
        return cls(path, realtime=realtime) if path.exists() and not path.is_dir() else None

    def open(self) -> None:
        if (problem := input_file_problem(self.path)) is not None:
            raise SourceError(
                f"video file {self.path} {problem}: pass an existing video, a folder of images or a camera index"
            )
        problem = opencv_path_problem(self.path)
        if problem is not None:
            raise SourceError(f"cannot read video {problem}")
        capture = cv2.VideoCapture(str(self.path))
        ok, image = capture.read() if capture.isOpened() else (False, None)
        if (not ok or image is None) and capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) == 0:
            capture.release()  # it decodes: it holds no frame ("re-encode it" was no help)
            raise SourceError(f"video file {self.path} has no frames: pass a video with at least one")
        if not ok or image is None:
            capture.release()
            if self.path.name.endswith((".posecast", ".posecast.part")):  # ("re-encode it" was the advice)
                raise SourceError(f"{self.path} is a posecast recording, not a video: publish it again with "
                                  f"`posecast replay {self.path}`")  # fmt: skip
            raise SourceError(
                f"OpenCV could not decode video {self.path}: expected a readable video "
                "(mp4/avi/mkv...); re-encode it, e.g. with ffmpeg -i IN -c:v libx264 OUT.mp4"
            )
        self._capture, self._pending, self._next_id, self.dropped_frames = capture, image, 0, 0
        self._first_ms = self._position_ms()  # a stream's first presentation time need not be 0
        self._variable_rate, self._last_media_ns = False, None
        self.damaged_frames = self._damaged_places = 0
        self._damaged_until = -1
        self.source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.frame_count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        self._pacer = Pacer(self.source_fps) if self.realtime else None
        log.debug("opened %s at %.2f fps", self.path, self.source_fps)

    def read(self) -> Frame | None:
        if self._capture is None:
            raise SourceError(f"video {self.path} is not open: call open() or use `with`")
        for _ in range(self._behind(self._next_id)):  # --realtime, behind the file's clock: skip (no colour
            if self._capture.grab():                   # conversion; grab decodes, the pacer lets its clock slip)
                self.dropped_frames += 1
            elif self._next_id + 1 >= self.frame_count:
                break  # the end: the read below says so
            else:  # a frame the decoder cannot read, skipped here: counted and numbered as _next_readable does
                self._skip_damaged(1)
            self._next_id += 1
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            image = self._next_readable()
            if image is None:
                return None
        return self._emit(image, self._media_ns())

    def _position_ms(self) -> float:
        assert self._capture is not None
        return float(self._capture.get(cv2.CAP_PROP_POS_MSEC))

    def _media_ns(self) -> int | None:
        """The frame just read's time in the file: ``None`` (``frame_id / fps``, exact for a
        constant rate) until a frame's presentation time is more than half a frame from that,
        then the presentation times (a variable-rate video: a phone's, a screen recording; its
        frames after a 1.5 s freeze were stamped 0.75 s early, and the window never restarted)."""
        if self.realtime or self.source_fps <= 0:
            return None
        period_ns = 1e9 / self.source_fps
        pts_ns = (self._position_ms() - self._first_ms) * 1e6
        if not np.isfinite(pts_ns):
            return self._last_media_ns if self._variable_rate else None
        if not self._variable_rate and abs(pts_ns - self._next_id * period_ns) > 0.5 * period_ns:
            self._variable_rate = True
            log.info("video %s has a variable frame rate (frame %d is at %.3f s, not %.3f s): frames carry their "
                     "presentation times", self.path, self._next_id, pts_ns * 1e-9,
                     self._next_id * period_ns * 1e-9)  # fmt: skip
        if not self._variable_rate:
            return None
        media_ns = int(round(pts_ns))
        if self._last_media_ns is not None and media_ns <= self._last_media_ns:
            # a clock must go forwards (a decoder after damage gave one time twice): half a frame on,
            # so that the next frame's own time is ahead again
            media_ns = self._last_media_ns + int(0.5 * period_ns)
        self._last_media_ns = media_ns
        return media_ns

    def _next_readable(self) -> np.ndarray | None:
        """The next frame the decoder can read, damaged ones skipped while the header counts more;
        ``None`` at the end (module docstring)."""
        assert self._capture is not None
        failed = 0
        while True:
            ok, image = self._capture.read()
            if ok and image is not None:
                break
            failed += 1
            # also: a count of 0 (unknown)
            if self._next_id + failed >= self.frame_count or failed >= MAX_UNREADABLE_RUN:
                if self._next_id + FRAME_COUNT_SLACK < self.frame_count:
                    after = (" after damaged frames (the frame numbers after the damage may be a few too low)"
                             if self.damaged_frames else "")  # fmt: skip
                    log.warning("video %s ended at frame %d of the %d its header counts%s: the file is cut short or "
                                "damaged (re-encode or re-copy it for the rest)", self.path, self._next_id,
                                self.frame_count, after)  # fmt: skip
                return None
        if failed:
            self._skip_damaged(failed)
            self._next_id += failed  # the media time of the frames after them stays theirs
        return image

    def _skip_damaged(self, count: int) -> None:
        """Count ``count`` damaged frames from frame ``_next_id``: the first place is logged, the
        others at debug level and in the total :meth:`close` logs (a file overwritten while it was
        read gave 188 warning lines in 50 s)."""
        text = "video %s: %d damaged frame(s) skipped at frame %d (the decoder could not read them)"
        if self._damaged_places == 0:
            log.warning(text + "; later ones are counted", self.path, count, self._next_id)
        else:
            log.debug(text, self.path, count, self._next_id)
        self.damaged_frames += count
        if self._next_id != self._damaged_until:  # not the same run going on (--realtime skips one at a time)
            self._damaged_places += 1
        self._damaged_until = self._next_id + count

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
            if self._damaged_places > 1:
                log.warning("video %s: %d damaged frames skipped in all, in %d places", self.path,
                            self.damaged_frames, self._damaged_places)  # fmt: skip
