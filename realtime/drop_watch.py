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
        self._since_s = self._last_tick_s = clock()
        self._due_s = self._since_s + FIRST_CHECK_S
        self._dropped0 = self._frames0 = 0
        self._paused_s = 0.0  # time in pauses since the last look (gaps between two frames of PAUSE_S or more)
        self._longest_pause_s = 0.0

    def tick(self, frames: int) -> None:
        """``frames`` processed so far: says the drops of the time since the last look when due."""
        now = self._clock()
        if (gap_s := now - self._last_tick_s) >= PAUSE_S:
            self._paused_s += gap_s
            self._longest_pause_s = max(self._longest_pause_s, gap_s)
            # the look waits a second: a paced file counts the frames it skips at the read after the pause
            self._due_s = max(self._due_s, now + 1.0)
        self._last_tick_s = now
        if now < self._due_s:
            return
        dropped = self._dropped()
        window_dropped, window_frames = dropped - self._dropped0, frames - self._frames0
        offered, elapsed_s = window_dropped + window_frames, now - self._since_s
        if offered and window_dropped / offered > MIN_DROPPED_FRACTION:
            # the frames a pause's time offered (the source's rate in the look) are the pause's drops
            in_pauses = min(window_dropped, round(offered * self._paused_s / elapsed_s))
            slower = (window_dropped - in_pauses) / offered > MIN_DROPPED_FRACTION
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
