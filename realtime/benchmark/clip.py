"""The benchmark's frames: a clip decoded once into memory, replayed as a source as often as asked.

:func:`load_clip` reads a video file, an image folder or a camera through the pipeline's own
sources and times each read (the ``capture_decode`` stage: decoding a file's frame, or a
camera's wait for its next frame). :class:`ClipSource` then replays those frames, so the
baseline and every configuration see exactly the same images:

- unpaced (``fps = 0``): each :meth:`ClipSource.read` returns the next frame at once, stamped
  with the time it was taken (a file read as fast as the pipeline goes; nothing is dropped; the
  temporal stages get media time);
- paced (``fps > 0``): a thread of its own delivers frame ``i`` at ``i / fps`` into a slot of one
  frame, like a live camera: a frame the pipeline has not taken when the next arrives is dropped
  and counted in ``dropped_frames``; frames carry their delivery time.

Frame ids keep increasing across passes and loops of the clip (``first_id``), so a subscriber
can tell every frame of a run apart and MediaPipe's timestamps only ever grow.
"""

from __future__ import annotations

import array
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np

from ..errors import SourceError
from ..sources import open_source
from ..stages import FrameSource
from ..types import Frame

log = logging.getLogger(__name__)

#: Decoded frames kept in memory at most (bytes); longer clips are cut.
MAX_CLIP_BYTES = 1_500_000_000


@dataclass
class Clip:
    """``images`` the decoded BGR frames ``(H, W, 3)`` uint8; ``fps`` the source's rate (30 when
    unknown); ``decode_ns`` per frame, the time its read took; ``name`` for reports."""

    name: str
    images: list[np.ndarray]
    fps: float
    decode_ns: np.ndarray

    @property
    def image_size(self) -> tuple[int, int]:
        height, width = self.images[0].shape[:2]
        return width, height


def load_clip(spec: str, max_frames: int) -> Clip:
    """Up to ``max_frames`` frames of ``spec`` (a video file, an image folder or a camera index)
    in memory, timing each read. Raises :class:`SourceError` when nothing can be read."""
    source = open_source(spec)
    images: list[np.ndarray] = []
    decode_ns: list[int] = []
    with source:
        total = 0
        while len(images) < max_frames:
            t0 = time.perf_counter_ns()
            frame = source.read()
            t1 = time.perf_counter_ns()
            if frame is None:
                break
            images.append(frame.image_bgr)
            decode_ns.append(t1 - t0)
            total += frame.image_bgr.nbytes
            if total >= MAX_CLIP_BYTES:
                if len(images) < max_frames and source.read() is not None:  # (QA: a 4K clip was cut without a word)
                    log.warning("%s: the benchmark keeps its first %d frames in memory (%.1f GB decoded, the most it "
                                "holds); the run loops over them", spec, len(images), total / 1e9)  # fmt: skip
                break
        fps = source.source_fps
    if not images:
        raise SourceError(f"source {spec!r} gave no frame: expected a readable video, image folder or camera")
    name = f"camera {spec}" if str(spec).isdigit() else str(spec).rstrip("/").split("/")[-1]
    return Clip(name, images, fps if fps and fps > 0 else 30.0, np.asarray(decode_ns, np.int64))


class ClipSource(FrameSource):
    """The clip's frames as a :class:`FrameSource` (see the module docstring): ``frames`` frames
    from clip index ``start`` on (looping), unpaced or paced at ``fps``.

    ``handoff_depth`` records, per delivered frame, ``(time.monotonic_ns(), frames waiting in
    the slot when it arrived)`` (0 or 1: the slot holds one frame, never more)."""

    name = "clip"

    def __init__(self, clip: Clip, frames: int, fps: float = 0.0, first_id: int = 0, start: int = 0) -> None:
        if frames < 1:
            raise SourceError(f"frames must be at least 1, got {frames}")
        self.clip, self.frames, self.fps = clip, frames, fps
        self.first_id, self.start = first_id, start
        self.source_fps = fps if fps > 0 else clip.fps
        self.dropped_frames = 0
        self.delivered = 0
        self._depths = array.array("q")  # time_ns, frames waiting: 16 bytes a frame
        #: paced: per frame, how late its capture stamp came after its scheduled time (ns): the
        #: virtual camera's own lateness, before capture and so outside every latency figure
        self.lateness_ns = array.array("q")
        self._next = 0
        self._slot: Frame | None = None
        self._ended = False
        self._ready = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def handoff_depth(self) -> list[tuple[int, int]]:
        return list(zip(self._depths[::2], self._depths[1::2], strict=True))

    def _frame(self, k: int, on_media_time: bool) -> Frame:
        image = self.clip.images[(self.start + k) % len(self.clip.images)]
        return Frame(self.first_id + k, time.monotonic_ns(), image, self.source_fps, on_media_time=on_media_time)

    def open(self) -> None:
        self._next, self._ended, self.dropped_frames, self.delivered = 0, False, 0, 0
        self.lateness_ns = array.array("q")
        self._stop.clear()
        if self.fps > 0:
            self._thread = threading.Thread(target=self._deliver, name="bench-camera", daemon=True)
            self._thread.start()

    def _deliver(self) -> None:
        period_ns = int(1e9 / self.fps)
        t0 = time.monotonic_ns()
        for k in range(self.frames):
            delay_ns = t0 + k * period_ns - time.monotonic_ns()
            if delay_ns > 0 and self._stop.wait(delay_ns / 1e9):
                break
            frame = self._frame(k, on_media_time=False)
            self.lateness_ns.append(frame.capture_ns - (t0 + k * period_ns))
            with self._ready:
                self._depths.extend((frame.capture_ns, int(self._slot is not None)))
                if self._slot is not None:
                    self.dropped_frames += 1
                self._slot = frame
                self.delivered += 1
                self._ready.notify_all()
        with self._ready:
            self._ended = True
            self._ready.notify_all()

    def read(self) -> Frame | None:
        if self.fps <= 0:
            if self._next >= self.frames:
                return None
            self._next += 1
            self.delivered += 1
            return self._frame(self._next - 1, on_media_time=True)
        if self._thread is None:
            raise SourceError("clip source is not open: call open() or use `with`")
        with self._ready:
            self._ready.wait_for(lambda: self._slot is not None or self._ended)
            frame, self._slot = self._slot, None
            return frame

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
