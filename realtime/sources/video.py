"""A video file, frame by frame (nothing is dropped, but with ``realtime`` the frames a slow
pipeline is too late for, as a camera drops them).

A damaged file is read as far as it goes: a frame the decoder cannot read, where the header
counts more frames, is skipped, and its number and media time stay used (the temporal stages
see a gap); the first damaged place is logged, the others counted in one total at the end, as an
image folder's unreadable images are. The numbers after damage are counted from the failed reads, which
is only as good as the decoder's account: an H.264 decoder that loses reference frames drops a
few more without failing a read (the dance clip with 20 kB zeroed: the frames after it are
numbered up to 5 too low), and a Motion-JPEG one may skip damaged frames silently. A file whose
first frames are damaged is read from the first frame that decodes, numbered and timed by its
presentation time (a decoder goes on to the next keyframe without failing a read for each frame
it drops), where it was refused whole before. A file
that ends before the header's count ends with a warning naming the frame it reached. Both were
silent before: a run stopped at the first damaged frame with exit 0.
"""

from __future__ import annotations

import contextlib
import logging
import shlex
from pathlib import Path

import cv2
import numpy as np

from ...engines.fileio import input_file_problem
from ...engines.host import memory_limit_hint
from ...engines.media import opencv_path_problem
from ..errors import SourceError
from ..types import Frame
from .containers import (
    has_no_video_stream,
    holds_no_stream,
    raw_stream_rate,
    video_streams,
    whole_though_counted_short,
)
from .files import FileSource, Pacer

log = logging.getLogger(__name__)


#: A file may end this many frames short of its header's count without a warning (a container's
#: count can be approximate).
FRAME_COUNT_SLACK = 2
#: The rate OpenCV reports for a stream that does not say (FFmpeg's default).
FFMPEG_GUESSED_FPS = 25.0
#: Frames in a row whose presentation time does not advance before the file is said to give none.
RAW_STREAM_FRAMES = 5
#: This many frames in a row that cannot be read end the video, whatever its header counts (QA: a
#: header claiming 2·10⁹ frames kept a 10-frame file reading nothing at 100 % CPU for half an hour).
MAX_UNREADABLE_RUN = 1000


def _frame_at(capture: cv2.VideoCapture, counted: int) -> int:
    """The number of the frame just read by its presentation time (0 when the file does not say):
    after a damaged start an H.264 decoder goes on to the next keyframe, decoding frames it then
    drops without failing a read (QA: the first frame read, frame 20, was numbered 11)."""
    fps, position_ms = capture.get(cv2.CAP_PROP_FPS), capture.get(cv2.CAP_PROP_POS_MSEC)
    if not (fps > 0 and position_ms > 0):
        return 0
    frame = round(position_ms * fps / 1e3)
    return frame if frame < counted else 0


#: The largest video frame read, in pixels: twice 8K UHD (33 MP; a 360-degree camera's 11520x5760
#: is 66), about 200 MB a frame as BGR (12K cinema, about 80 MP, is refused: scale it down); a
#: frame's size is what a file declares, whatever the file's own size
MAX_VIDEO_PIXELS = 8192 * 8192


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
        self._reset_clock(0.0)
        self._display_size: tuple[int, int] | None = None  # non-square pixels: the size frames are shown at
        self._opened_bytes = 0  # the file's size when opened

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
        size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if capture.isOpened() and size[0] * size[1] > MAX_VIDEO_PIXELS:  # before a frame is decoded
            capture.release()  # (security QA: a 6.9 MB file of 12000x12000 frames took the run to 3 GB)
            raise SourceError(f"video file {self.path} has {size[0]}x{size[1]} frames, more than "
                              f"{MAX_VIDEO_PIXELS / 1e6:.0f} megapixels (8K is 33): pass a smaller video, e.g. "
                              "ffmpeg -i IN -vf scale=1920:-2 OUT.mp4")  # fmt: skip
        ok, image = capture.read() if capture.isOpened() else (False, None)
        # a damaged start: read from the first frame that decodes, as damage further on is skipped
        # (QA: a clip whose first frames were damaged was refused whole)
        counted = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if capture.isOpened() else 0
        damaged_start = 0
        while (not ok or image is None) and damaged_start + 1 < min(counted, MAX_UNREADABLE_RUN):
            damaged_start += 1
            ok, image = capture.read()
        if damaged_start and ok and image is not None:
            damaged_start = max(damaged_start, _frame_at(capture, counted))
        if ok and image is not None and (streams := video_streams(self.path)) is not None:
            if streams[0] == 0 and streams[1] > 0:
                capture.release()
                raise SourceError(f"{self.path} holds sound and a cover picture but no video: pass a video file")
            if streams[0] > 1:  # a warning: the first may be a thumbnail or another camera's (review)
                log.warning("video %s holds %d video streams: reading the first (ffmpeg -i IN -map 0:v:1 -c copy "
                            "OUT.mkv takes out the second)", self.path, streams[0])  # fmt: skip
        if (not ok or image is None) and capture.isOpened() and capture.get(cv2.CAP_PROP_FRAME_COUNT) == 0:
            capture.release()  # it decodes: it holds no frame ("re-encode it" was no help)
            raise SourceError(f"video file {self.path} has no frames: pass a video with at least one")
        if not ok or image is None:
            capture.release()
            if self.path.name.endswith((".posecast", ".posecast.part")):  # ("re-encode it" was the advice)
                raise SourceError(f"{self.path} is a posecast recording, not a video: publish it again with "
                                  f"`posecast replay {self.path}`")  # fmt: skip
            if self.path.suffix.lower() == ".npz":  # (QA: "re-encode it with ffmpeg" for 2D keypoints)
                lifted = self.path.with_name(f"{self.path.stem}_3d.npz")
                given, lifted = shlex.quote(str(self.path)), shlex.quote(str(lifted))
                raise SourceError(f"{self.path} is numpy's .npz, not a video: lift recorded 2D keypoints with "
                                  f"`posecast lift --input {given} --output {lifted}`")  # fmt: skip
            if self.path.stat().st_size == 0:  # (QA: "re-encode it" for an empty file)
                raise SourceError(f"video file {self.path} is empty (0 bytes): pass the video itself (a download or "
                                  "copy that did not finish?)")  # fmt: skip
            if holds_no_stream(self.path):  # (QA: "could not decode ... re-encode it" for it)
                raise SourceError(f"video file {self.path} has no frames, nor any stream (a recording stopped before "
                                  "its first frame?): pass a video with at least one")  # fmt: skip
            if has_no_video_stream(self.path):  # (QA: an audio-only file was told to re-encode)
                raise SourceError(f"{self.path} holds sound but no video: pass a video file")
            # (QA: a download cut short before its index was told to re-encode)
            raise SourceError(
                f"OpenCV could not decode video {self.path}: it reads no frame from it (no video stream it "
                f"reads, damage throughout, a download or copy that did not finish, or a codec this OpenCV lacks"
                f"{memory_limit_hint()}); if it plays elsewhere, re-encode it, e.g. with ffmpeg -i IN -c:v libx264 "
                "OUT.mp4"
            )
        self._capture, self._pending, self._next_id, self.dropped_frames = capture, image, 0, 0
        with contextlib.suppress(OSError):  # (deleted meanwhile: it is open, and read to its end)
            self._opened_bytes = self.path.stat().st_size  # a file still being written grows (end of stream)
        self.damaged_frames = self._damaged_places = 0
        self._damaged_until = -1
        if damaged_start:  # numbered and timed as the frames they are (the temporal stages see a gap)
            self._skip_damaged(damaged_start)
            self._next_id = damaged_start
        self.source_fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        # a stream's first presentation time need not be 0; that of the frame it would be
        self._reset_clock(self._position_ms() - (damaged_start * 1e3 / self.source_fps if self.source_fps > 0 else 0))
        if self.source_fps == FFMPEG_GUESSED_FPS and (rate := raw_stream_rate(self.path)):
            log.info("video %s is a raw stream: its frame rate is its header's, %.4g fps (OpenCV says %g, FFmpeg's "
                     "guess)", self.path, rate, FFMPEG_GUESSED_FPS)  # fmt: skip
            self.source_fps, self._rate_from_header = rate, True
        self.frame_count = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        self._pacer = Pacer(self.source_fps) if self.realtime else None
        self._display_size = self._shown_size(capture, image)
        log.debug("opened %s at %.2f fps", self.path, self.source_fps)

    def _shown_size(self, capture: cv2.VideoCapture, image: np.ndarray) -> tuple[int, int] | None:
        """The size frames are shown at when the file's pixels are not square (DV, HDV, some
        camcorders: 1440x1080 shown 1920x1080), else ``None``. Lifted as stored, such a person is
        stretched (QA: a 4:3 pixel clip's 3D was 38 mm median off the square one's, no word)."""
        num, den = capture.get(cv2.CAP_PROP_SAR_NUM), capture.get(cv2.CAP_PROP_SAR_DEN)
        if not (num > 0 and den > 0) or abs(num / den - 1.0) < 0.01:
            return None
        height, width = image.shape[:2]
        # the pixel ratio is the stored frame's, and OpenCV hands the frame turned upright by the
        # file's rotation: turned a quarter, the stored width is the frame's height (footage QA: a
        # phone's portrait clip of 4:3 pixels was stretched across, its 3D 138 mm off)
        if round(capture.get(cv2.CAP_PROP_ORIENTATION_META)) % 180 == 90:
            shown = (width, max(1, round(height * num / den)))
        else:
            shown = (max(1, round(width * num / den)), height)
        log.info("video %s has non-square pixels (%g:%g): its %dx%d frames are read as shown, %dx%d", self.path,
                 num, den, width, height, *shown)  # fmt: skip
        return shown

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
        if self._display_size is not None:  # non-square pixels: the frame as it is shown
            image = cv2.resize(image, self._display_size, interpolation=cv2.INTER_LINEAR)
        return self._emit(image, self._media_ns())

    def _reset_clock(self, first_ms: float) -> None:
        """The media clock's state (:meth:`_media_ns`) for a file opened anew."""
        self._first_ms = first_ms  # the first frame's presentation time (ms)
        self._variable_rate = False  # frames carry their presentation times
        self._last_media_ns: int | None = None
        self._last_pts_ns: float | None = None  # the last frame's presentation time, as the file gives it
        #: a time back, decided at the next frame: (frame, its time, its stamp, how far back), ns
        self._jump: tuple[int, float, float, float] | None = None
        self._pts_offset_ns = 0.0  # added to the file's times after joined segments
        self._stuck_frames = 0  # frames in a row whose time did not advance
        self._rate_from_header = False  # a raw stream's rate read from its own header (said once, at open)

    def _behind(self, next_index: int) -> int:
        """--realtime: frames to skip, counted on the nominal rate; none in a variable-rate video,
        whose frames are not that far apart (its slow part was skipped as late; review): it is
        paced by its own times, and its clock slips when the pipeline is slower."""
        return 0 if self._variable_rate else super()._behind(next_index)

    def _position_ms(self) -> float:
        assert self._capture is not None
        return float(self._capture.get(cv2.CAP_PROP_POS_MSEC))

    def _media_ns(self) -> int | None:
        """The frame just read's time in the file: ``None`` (``frame_id / fps``, exact for a
        constant rate) until a frame's presentation time is more than half a frame from that,
        then the presentation times (a variable-rate video: a phone's, a screen recording; its
        frames after a 1.5 s freeze were stamped 0.75 s early, and the window never restarted).

        Times that do not advance are none (a raw H.264 stream: 0 for every frame, taken for a
        variable rate, ran the clock twice too fast): ``frame_id / fps``. A time a frame or more
        back, with the next frame going on from it, is joined segments (HLS, dash cams, NVRs: the
        clock went back 2 s and the person got a new id): the times are measured on from there. A
        time back that the next frame does not follow (a decoder's one wrong time after damage)
        is left out: that frame is stamped a frame after the last."""
        if self.source_fps <= 0:
            return None
        period_ns = 1e9 / self.source_fps
        pts_ns = (self._position_ms() - self._first_ms) * 1e6
        if not np.isfinite(pts_ns):
            return self._last_media_ns if self._variable_rate else None
        last_pts, self._last_pts_ns = self._last_pts_ns, pts_ns
        if self._jump is not None:  # the frame after a time back: does it go on from there?
            jump_id, jump_pts, jump_media_ns, back_ns = self._jump
            self._jump = None
            if abs(pts_ns - jump_pts - (self._next_id - jump_id) * period_ns) <= 0.5 * period_ns:
                self._pts_offset_ns = jump_media_ns - jump_pts  # the jump's frame stays where it was stamped
                log.info("video %s: its presentation times start again at frame %d, %.3f s back (segments joined?): "
                         "measured on from there", self.path, jump_id, back_ns * 1e-9)  # fmt: skip
        if last_pts is not None and pts_ns <= last_pts:
            if pts_ns < last_pts - period_ns:  # back: decided at the next frame
                media_ns = self._held_media_ns(period_ns)
                stamped_ns = self._next_id * period_ns if media_ns is None else media_ns
                self._jump = (self._next_id, pts_ns, stamped_ns, last_pts - pts_ns)
                return media_ns
            self._stuck_frames += 1
            if self._stuck_frames == RAW_STREAM_FRAMES and not self._variable_rate and not self._rate_from_header:
                guess = (f" (FFmpeg's guess where a stream does not say: if it was filmed at another rate, wrap it "
                         f"so, e.g. ffmpeg -framerate 30 -i IN{self.path.suffix} -c copy OUT.mp4)"
                         if self.source_fps == FFMPEG_GUESSED_FPS else "")  # fmt: skip
                # (footage QA: a file repeating one time was called "a raw stream?" with no times)
                log.info("video %s gives presentation times that do not advance (a raw stream, or one time repeated): "
                         "frames are stamped at its nominal %.4g fps%s", self.path, self.source_fps, guess)  # fmt: skip
            return self._held_media_ns(period_ns)
        self._stuck_frames = 0
        clock_ns = pts_ns + self._pts_offset_ns
        if not self._variable_rate:
            if abs(clock_ns - self._next_id * period_ns) <= 0.5 * period_ns:
                return None
            self._variable_rate = True
            self._last_media_ns = int(round((self._next_id - 1) * period_ns)) if self._next_id else None
            log.info("video %s has a variable frame rate (frame %d is at %.3f s, not %.3f s): frames keep their "
                     "presentation times", self.path, self._next_id, clock_ns * 1e-9,
                     self._next_id * period_ns * 1e-9)  # fmt: skip
        media_ns, last = int(round(clock_ns)), self._last_media_ns
        if last is not None and media_ns <= last:
            # a clock must go forwards (a decoder after damage gave a time twice, or an earlier one):
            # half a frame on, so that the next frame's own time is ahead again
            media_ns = last + int(0.5 * period_ns)
        self._last_media_ns = media_ns
        return media_ns

    def _held_media_ns(self, period_ns: float) -> int | None:
        """A frame whose time does not advance: on the frame clock, or half a frame after the last."""
        if not self._variable_rate:
            return None
        self._last_media_ns = media_ns = (self._last_media_ns or 0) + int(0.5 * period_ns)
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
                if self._grew_while_read():
                    return None
                if self._next_id + FRAME_COUNT_SLACK < self.frame_count and not whole_though_counted_short(self.path):
                    # the frames read, as a loop counts them (QA: "ended at frame 50", the next frame's
                    # number, of a take of 49 read and 1 damaged); the ones not read said beside them
                    read = self._next_id - self.damaged_frames - self.dropped_frames
                    missed = ((self.damaged_frames, "damaged, skipped"), (self.dropped_frames, "dropped to keep time"))
                    besides = ", ".join(f"{n} {what}" for n, what in missed if n)
                    besides = f" (and {besides})" if besides else ""
                    # (QA: a clip trimmed by a phone or `ffmpeg -ss ... -c copy` keeps the cut frames' packets
                    # behind an edit list, and was called damaged; OpenCV cannot tell the two apart)
                    log.warning("video %s ended after %d frame%s read%s of the %d its header counts: trimmed without "
                                "re-encoding (a phone's trim, ffmpeg -c copy), a file counts frames it does not show; "
                                "otherwise it is cut short or damaged (re-copy it for the rest)", self.path, read,
                                "" if read == 1 else "s", besides, self.frame_count)  # fmt: skip
                return None
        if failed:
            self._skip_damaged(failed)
            self._next_id += failed  # the media time of the frames after them stays theirs
        return image

    def _grew_while_read(self) -> bool:
        """Whether the file is larger than when it was opened, said once (footage QA: a recording
        still being written was read up to where it was, exit 0 without a word)."""
        try:
            grown = self.path.stat().st_size > self._opened_bytes
        except OSError:
            return False
        if grown:
            # (constrained-machine QA: "for the rest" was said of a file read whole as its writer finished)
            log.warning("video %s grew while it was read (still being recorded or copied?): read up to frame %d; if "
                        "it was still being written, run again once it is finished for the rest", self.path,
                        self._next_id)  # fmt: skip
        return grown

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

