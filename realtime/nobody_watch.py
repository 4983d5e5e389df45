"""Says once, while a run goes on, that the 2D detector has found nobody, and what usually causes it.

A run in which MediaPipe finds no one publishes ``lost`` messages and ends with "pose in 0 (0 %)"
and nothing more (QA, 2026-12-07: the dance clip shrunk so that the dancer stood 27 % of the
image's height was never found, at 36 % she was in every frame; nothing said why). The person
detector looks for a body at a webcam's distance, so the usual causes are few and a user can fix
them. :class:`NobodyWatch` says them once, after :data:`FIRST_LOOK_S` of the stream's clock
(media time for a file, so a file read at full speed is judged by what it shows, not by how fast
it decodes) with nobody found, or when a shorter run ends (or is stopped) so; never again once
someone was found. At the info level, as the run's summary: a camera started before its user
steps into view is no fault.
"""

from __future__ import annotations

import logging

from .types import PoseFrame

log = logging.getLogger(__name__)

#: Seconds of the stream with nobody found before it is said (a camera started before its user steps
#: in is normal for a moment).
FIRST_LOOK_S = 5.0


def nobody_text(label: str, frames: int, seconds: float) -> str:
    """The line for ``frames`` over ``seconds`` of ``label`` without a person found."""
    return (f"{label}: no person found in its first {frames} frames ({seconds:.1f} s). If someone is in view: "
            "MediaPipe finds a body that fills about a third of the image's height or more, head and shoulders in "
            "view, in enough light; step closer "
            "(or zoom or crop the camera), light the room, uncover the lens")  # fmt: skip


class NobodyWatch:
    """:meth:`tick` with each processed frame, :meth:`finish` when the run ends; ``label`` names
    the source."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._first_ns: int | None = None
        self._last_ns = self._frames = 0
        self._done = False  # said, or someone was found

    def tick(self, frame: PoseFrame) -> None:
        if self._done:
            return
        if frame.people:  # tracked, warming or just lost: the detector found someone
            self._done = True
            return
        if self._first_ns is None:
            self._first_ns = frame.timestamp_ns
        self._last_ns = frame.timestamp_ns
        self._frames += 1
        if self._last_ns - self._first_ns >= FIRST_LOOK_S * 1e9:
            self._say()

    def finish(self) -> None:
        """A run that ended with nobody found before :data:`FIRST_LOOK_S` still hears why."""
        if not self._done and self._first_ns is not None:
            self._say()

    def _say(self) -> None:
        self._done = True
        log.info("%s", nobody_text(self.label, self._frames, (self._last_ns - self._first_ns) / 1e9))
