"""Watches the sinks that run on the pipeline's thread (``inline = True``): one that holds a live
frame is said once, naming it (QA: a slow inline ``write`` slowed the whole pipeline, and the
camera's frames were dropped, with nothing said).

Not timed: a sink's first frame (OpenCV opens its window there) and a file's frames (the video
output waits for its encoder there: backpressure, on purpose). The cost is two clock reads per
inline sink per frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..stages import Sink
from ..types import PoseFrame

log = logging.getLogger(__name__)

#: An inline sink's ``write`` that takes this long on a live frame is logged, once per sink.
INLINE_WRITE_WARNING_S = 0.1


class InlineWriteWatch:
    """:meth:`check` after each inline ``write``; says once per sink when one held a live frame."""

    def __init__(self) -> None:
        self._timed: set[int] = set()  # id(sink): its first live frame is behind it
        self._warned: set[int] = set()  # id(sink): said to have held a frame

    def check(self, output: Sink, frame: PoseFrame, took_s: float, label_of: Callable[[Sink], str]) -> None:
        """``label_of`` names the output in the message (the pipeline's ``output_labels``; passed
        per call, not kept: a bound method kept here made every pipeline a reference cycle, and
        MediaPipe's landmarker hangs when the garbage collector closes it, QA)."""
        if frame.on_media_time or id(output) in self._warned:
            return
        if id(output) not in self._timed:  # its first frame
            self._timed.add(id(output))
            return
        if took_s >= INLINE_WRITE_WARNING_S:
            self._warned.add(id(output))
            # posecast's own inline outputs cannot be moved to a thread by a user: the advice is for a sink's author
            own = type(output).__module__.startswith("posecast.")
            advice = ("the camera's frames are dropped meanwhile" if own else
                      "an inline sink must return at once (inline = False gives it a thread and a queue of its own)")
            log.warning("output %s took %.2f s to take frame %d on the pipeline's thread, which waited for it: %s",
                        label_of(output), took_s, frame.frame_id, advice)  # fmt: skip
