"""Which of a live source's stalls the log tells one by one, and the summary of the others.

A camera on a loose cable can stall every second or two for hours; two lines a stall (when it
stopped, when it came back) were 80 lines a minute in a service's log (ops QA). The first stalls
are told one by one. Once a source stalls more than :data:`STALLS_TOLD` times within
:data:`WINDOW_S`, the log says so once, then counts the stalls and says them in one line per
:data:`WINDOW_S` while they go on, and once more when the source has delivered steadily for a
whole :data:`WINDOW_S` (then stalls are told one by one again). The subscribers' ``lost``
messages are not affected: only the log is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)

#: Stalls told one by one within :data:`WINDOW_S`; more than that and they are summarised.
STALLS_TOLD = 3
#: The window over which stalls are counted, and between summaries (s).
WINDOW_S = 60.0


class StallLog:
    """Decides, for the source ``label``, whether a stall is told one by one (:meth:`started`
    returns ``True``: say its start, and :meth:`ended` then says whether to say its end), and logs
    the summaries of the stalls it does not tell. Safe to call from several threads; ``clock`` is
    ``time.monotonic`` but for tests."""

    def __init__(self, label: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self._clock = label, clock
        self._lock = threading.Lock()
        self._told_starts_s: deque[float] = deque(maxlen=STALLS_TOLD)  # the last stalls told
        self._summarising_since_s: float | None = None  # None: stalls are told one by one
        self._last_stall_s = 0.0
        self._counted, self._counted_silent_s = 0, 0.0  # the stalls not told, since the last summary
        self._telling = False  # whether the stall going on is told one by one
        self._stalled = False  # whether a stall is going on

    def started(self) -> bool:
        """A stall began: whether to tell it (its start now and its end at :meth:`ended`). Asked
        again before it ended, the same answer."""
        with self._lock:
            if self._stalled:
                return self._telling
            now = self._clock()
            self._summary_due(now)
            self._last_stall_s, self._stalled = now, True
            if self._summarising_since_s is None:
                window_full = len(self._told_starts_s) == STALLS_TOLD
                if not (window_full and now - self._told_starts_s[0] < WINDOW_S):
                    self._told_starts_s.append(now)
                    self._telling = True
                    return True
                self._summarising_since_s = now
                log.warning("%s keeps stalling (%d times in %.0f s): its stalls are now counted and said once "
                            "every %.0f s while they go on", self.label, STALLS_TOLD + 1,
                            now - self._told_starts_s[0], WINDOW_S)  # fmt: skip
            self._counted += 1
            self._telling = False
            return False

    def ended(self, silent_s: float) -> bool:
        """The stall going on ended after ``silent_s`` without frames: whether to say so (its
        start was told)."""
        with self._lock:
            now = self._clock()
            self._last_stall_s, self._stalled = now, False
            if not self._telling:
                self._counted_silent_s += silent_s
            telling, self._telling = self._telling, False
            self._summary_due(now)
            return telling

    def tick(self) -> None:
        """Called as frames come: says a summary that is due (cheap when none is)."""
        if self._summarising_since_s is None:
            return
        with self._lock:
            self._summary_due(self._clock())

    def close(self) -> None:
        """The source closes: say the stalls counted since the last summary."""
        with self._lock:
            if self._summarising_since_s is not None and self._counted:
                self._say_counted(self._clock())
            self._summarising_since_s = None

    def _summary_due(self, now: float) -> None:
        if self._summarising_since_s is None:
            return
        steady = not self._stalled and now - self._last_stall_s >= WINDOW_S
        if now - self._summarising_since_s < WINDOW_S and not steady:
            return
        if self._counted:
            self._say_counted(now)
        if steady:
            log.warning("%s has delivered without a stall for %.0f s: its stalls are told one by one again",
                        self.label, now - self._last_stall_s)  # fmt: skip
            self._summarising_since_s = None
            self._told_starts_s.clear()
        else:
            self._summarising_since_s = now

    def _say_counted(self, now: float) -> None:
        log.warning("%s stalled %d more time%s in the last %.0f s (%.1f s without frames in all)", self.label,
                    self._counted, "" if self._counted == 1 else "s", now - (self._summarising_since_s or now),
                    self._counted_silent_s)  # fmt: skip
        self._counted, self._counted_silent_s = 0, 0.0
