"""Says, while a live run goes on, when processing falls behind the source.

A camera (or ``--realtime``) delivers at its own pace, and a frame the pipeline has no time for is
dropped at capture and counted; until 2026-12-07 the count was said only when the run ended (QA:
42 % of a 2-minute run on a starved core dropped without a line, on a headless VTuber run).
:class:`DropWatch` looks at the source's count as frames are processed: after the first
:data:`FIRST_CHECK_S`, then every :data:`CHECK_EVERY_S`, it warns when more than
:data:`MIN_DROPPED_FRACTION` of the frames the source offered in that time were dropped. One line
a minute at most, whatever the rate.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Seconds of the run before the first look, and between looks.
FIRST_CHECK_S, CHECK_EVERY_S = 10.0, 60.0
#: The share of the source's frames dropped in a look's time that is said.
MIN_DROPPED_FRACTION = 0.1
#: Processing held up this long at once (s) is a pause, not slowness: the process stopped (Ctrl-Z,
#: a debugger), the machine suspended, another program holding the CPU. Its frames are said as
#: dropped during it (time QA: an 8 s stop was said as "this machine is slower than the source").
PAUSE_S = 2.0


class DropWatch:
    """Watches ``dropped()`` (the source's frames dropped at capture so far) against the frames
    processed, :meth:`tick` after each; ``label`` names the source; ``clock`` is
    ``time.monotonic`` but for tests."""

    def __init__(self, label: str, dropped: Callable[[], int], clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self._dropped, self._clock = label, dropped, clock
        self._started = False  # the looks count from the first frame: loading the models is no pause (review)
        self._since_s = self._due_s = self._last_tick_s = 0.0
        self._dropped0 = self._frames0 = self._last_dropped = 0
        self._paused_s = self._longest_pause_s = 0.0  # time in pauses since the last look, the longest
        self._paused_dropped = 0  # drops counted in a pause and the second after it since the last look
        self._pause_counts_until_s = -math.inf

    def tick(self, frames: int) -> None:
        """``frames`` processed so far: says the drops of the time since the last look when due."""
        now, dropped = self._clock(), self._dropped()
        if not self._started:
            self._started = True
            self._since_s, self._due_s = now, now + FIRST_CHECK_S
            self._dropped0 = self._last_dropped = dropped
            self._frames0, self._last_tick_s = frames, now
        if (gap_s := now - self._last_tick_s) >= PAUSE_S:
            self._paused_s += gap_s
            self._longest_pause_s = max(self._longest_pause_s, gap_s)
            # the drops counted up to a second after it are the pause's (a paced file counts the frames it
            # skips at the read after it; a camera stopped with the process drops nothing meanwhile: review),
            # and the look waits for them
            self._pause_counts_until_s = now + 1.0
            self._due_s = max(self._due_s, now + 1.0)
        if now <= self._pause_counts_until_s:
            self._paused_dropped += dropped - self._last_dropped
        self._last_tick_s, self._last_dropped = now, dropped
        if now < self._due_s:
            return
        window_dropped, window_frames = dropped - self._dropped0, frames - self._frames0
        offered, elapsed_s = window_dropped + window_frames, now - self._since_s
        if offered and window_dropped / offered > MIN_DROPPED_FRACTION:
            in_pauses = min(window_dropped, self._paused_dropped)
            slower = (window_dropped - in_pauses) / max(offered - in_pauses, 1) > MIN_DROPPED_FRACTION
            said = (f"{self.label}: {window_dropped} of its {offered} frames in the last {elapsed_s:.0f} s were "
                    "dropped at capture")
            if in_pauses:
                said += (f", {in_pauses} of them while processing was held up (once for {self._longest_pause_s:.1f} s: "
                         "the process stopped, the machine suspended or another program holding the CPU)")
            if slower:
                rate = window_frames / max(elapsed_s - self._paused_s, 1e-3)
                said += (f" ({rate:.1f} processed a second): this machine is slower than the source; a lighter "
                         "--landmarker, a smaller --camera-size or fewer other programs running help")
            log.warning("%s", said)
        self._since_s, self._due_s = now, now + CHECK_EVERY_S
        self._dropped0, self._frames0 = dropped, frames
        self._paused_s = self._longest_pause_s = 0.0
        self._paused_dropped = 0
