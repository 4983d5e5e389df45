"""What the drawn views show besides the poses: the measured frame rate and latency, per frame."""

from __future__ import annotations

import collections

from ..types import PoseFrame


class RateMeter:
    """Frames per second as frames over wall time, over the last ``window_s`` seconds (not an
    average of per-stage times): ``tick(now_ns)`` once per frame returns the rate so far
    (0.0 until two frames were seen)."""

    def __init__(self, window_s: float = 1.0) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s must be > 0, got {window_s}")
        self.window_ns = int(window_s * 1e9)
        self._times: collections.deque[int] = collections.deque()

    def tick(self, now_ns: int) -> float:
        times = self._times
        times.append(now_ns)
        while len(times) > 2 and now_ns - times[1] >= self.window_ns:  # keep one frame older than the window
            times.popleft()
        span_ns = times[-1] - times[0]
        return (len(times) - 1) * 1e9 / span_ns if span_ns > 0 else 0.0


def view_stats(frame: PoseFrame, meter: RateMeter, now_ns: int) -> dict[str, float]:
    """The figures a view prints for ``frame``, measured at ``now_ns`` (``time.monotonic_ns()``,
    when the view got the frame): the processing rate, capture → view and the lifting time."""
    return {
        "fps": meter.tick(now_ns),
        "capture_to_view_ms": (now_ns - frame.capture_ns) / 1e6,
        "lift_ms": frame.stage_ns.get("lift", 0) / 1e6,
    }
