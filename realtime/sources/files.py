"""What the file sources share: numbered frames, media time, optional pacing at the native rate."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from ..stages import FrameSource
from ..types import Frame

log = logging.getLogger(__name__)

#: A paced file whose clock has slipped this far behind real time says so, once (ns).
SLIP_SAID_NS = 1_000_000_000
#: A step in a paced file's presentation times longer than this (s) is not waited for (an NVR's
#: export with the hours it did not record cut out: QA's clip with a 60 s gap held the run silent,
#: no meta, for 60 s)...
MAX_GAP_S = 5.0
#: ...but played as a pause this long (s), as ``posecast replay`` plays a take's.
GAP_PAUSE_S = 1.0


class Pacer:
    """Sleeps so that frame ``i`` is returned no earlier than ``(i - first) / fps`` after the
    first frame read, ``first``, and tells which frame is due now."""

    def __init__(self, fps: float, sleep: Callable[[float], object] = time.sleep) -> None:
        self.period_ns = int(1e9 / fps) if fps > 0 else 0
        self.start_ns: int | None = None
        self._sleep = sleep  # a reading thread's stop event's wait: a stop ends the wait
        #: how far the file's clock has slipped in all (reads slower than its frame period), ns
        self.slipped_ns = 0
        self._slip_said = False
        self._last_due_ns: int | None = None  # the frame before's presentation time
        self._gap_said = False

    def wait(self, index: int, at_ns: int | None = None) -> int:
        """Sleep until frame ``index`` is due: ``index`` periods after the first, or ``at_ns``
        after it when the frame says when it is shown (a variable-rate video's presentation time;
        QA: counted frames played its 30 fps part slow and its 15 fps part fast). Returns when it
        was due (``time.monotonic_ns``), its capture time as a camera's: a frame handed out late
        waited as long in the camera's buffer (constrained-machine QA: stamped when it was asked
        for, ``run --realtime`` left that wait, p50 17 ms under load, out of its latency)."""
        now = time.monotonic_ns()
        due_ns = index * self.period_ns if at_ns is None else at_ns
        if self.start_ns is None:  # the first frame read is due now, whatever its number (review: a video
            self.start_ns = now - due_ns  # read from frame 60, its start damaged, waited 2.4 s first)
        # a gap in the file's own times, measured from the frame before or from the time due now,
        # whichever is later: frames skipped for lateness (a run stopped 8 s) are no gap (review)
        elif self._last_due_ns is not None and (gap_ns := due_ns - max(self._last_due_ns, now - self.start_ns)) > \
                MAX_GAP_S * 1e9:  # fmt: skip
            (log.debug if self._gap_said else log.warning)(
                "the file's time jumps %.1f s before frame %d: played as a %g s pause (a paced file waits at most "
                "%g s between two frames)", gap_ns / 1e9, index, GAP_PAUSE_S, MAX_GAP_S)  # fmt: skip
            self._gap_said = True
            self.start_ns -= gap_ns - int(GAP_PAUSE_S * 1e9)
        self._last_due_ns = due_ns
        delay_ns = self.start_ns + due_ns - now
        if delay_ns > 0:
            self._sleep(delay_ns / 1e9)
        elif -delay_ns > 2 * self.period_ns:
            # Frame ``index`` was the one due when the read began, so it is late by the time already
            # spent in its period (up to one) plus the read. More than two periods: reading a frame
            # takes longer than the file's frame period (skipping decodes too, in a video), and the
            # file's clock slips here rather than skip ever more frames each read. (At one period a
            # read of a millisecond slipped it a whole frame, 1 read in 30 at 30 fps: 2 % slow.)
            self.slipped_ns += (now - due_ns) - self.start_ns
            self.start_ns = now - due_ns
            if self.slipped_ns > SLIP_SAID_NS and not self._slip_said:  # (constrained-machine QA: said nowhere)
                self._slip_said = True
                log.warning("reading the file is slower than its frame rate (its decoding or its storage): its clock "
                            "has slipped %.1f s behind real time so far; frames are not skipped for it",
                            self.slipped_ns / 1e9)  # fmt: skip
        return min(self.start_ns + due_ns, time.monotonic_ns())  # (a wait a stop ended early: not in the future)

    def due(self) -> int:
        """The newest frame whose time has come (0 before the first frame, or unpaced)."""
        if self.start_ns is None or not self.period_ns:
            return 0
        return (time.monotonic_ns() - self.start_ns) // self.period_ns


class PresentationPacer:
    """Releases frames at their presentation times: each frame ``pts_s`` after the first's release
    (a segmented live stream's frames come a segment at a time, in bursts). A frame that comes
    later than that moves the schedule back by its lateness, so the frames after it keep their
    spacing; times that go back, or jump ahead by more than :data:`MAX_PTS_STEP_S` (a new stream
    after a reconnect), start the schedule again at that frame."""

    MAX_PTS_STEP_S = 5.0

    def __init__(self, sleep: Callable[[float], object] = time.sleep) -> None:
        self._offset_s: float | None = None  # a frame's release time less its presentation time
        self._last_pts_s: float | None = None
        self._sleep = sleep

    def wait(self, pts_s: float) -> None:
        now = time.monotonic()
        last, self._last_pts_s = self._last_pts_s, pts_s
        if self._offset_s is None or last is None or not 0.0 <= pts_s - last <= self.MAX_PTS_STEP_S:
            self._offset_s = now - pts_s  # the first frame, or another clock: due now
        due = self._offset_s + pts_s
        if due > now:
            self._sleep(due - now)
        else:
            self._offset_s += now - due  # late: the following frames keep their spacing from this one


class FileSource(FrameSource):
    """Base of file-like sources. Read as fast as they decode, frames carry media time
    (:attr:`Frame.timestamp_ns`, results independent of the machine's speed); with ``realtime``
    they are paced at the native fps, as a camera would deliver them, and carry capture time."""

    realtime: bool = False
    #: With ``realtime``: frames whose time had passed when the pipeline asked for the next one,
    #: skipped as a camera drops the frames a slow pipeline does not take (the run keeps the
    #: file's pace); their numbers are left as gaps.
    dropped_frames: int = 0
    #: Frames in the file (0 when unknown; a container's count can be approximate).
    frame_count: int = 0
    _next_id: int = 0
    _pacer: Pacer | None = None

    def _behind(self, next_index: int) -> int:
        """With ``realtime``: how many frames to skip before frame ``next_index``, decided once per
        read from the time it is asked (as a camera hands out its newest frame), so that the frame
        read next is the one due: however long a frame takes to decode, every read returns a
        frame. 0 unpaced."""
        return 0 if self._pacer is None else max(0, self._pacer.due() - next_index)

    def _emit(self, image: np.ndarray, media_ns: int | None = None) -> Frame:
        captured_ns = time.monotonic_ns() if self._pacer is None else self._pacer.wait(self._next_id, media_ns)
        frame = Frame(self._next_id, captured_ns, image, self.source_fps, on_media_time=not self.realtime,
                      media_ns=None if self.realtime else media_ns)  # fmt: skip
        self._next_id += 1
        return frame
