"""The causal window of recent 2D poses that the lifting network reads.

:class:`PoseWindow` keeps the last ``T`` intrinsics-normalised 2D poses ``(17, 2)`` of one
tracked person in a preallocated ring buffer and hands the lifter a ``(T, 17, 2)`` window,
oldest frame first, newest (the current frame) last. It never looks ahead, so it adds no
latency.

Policy (what the pipeline and the README rely on):

- **Start-up (edge padding).** Until ``T`` frames have been seen since the last reset, the
  missing older frames are filled by repeating the oldest frame seen, the same padding the
  lifter is trained with. The state is ``"warming"`` and the pose is still lifted and
  published; :attr:`WindowResult.filled` says how many frames are real.
- **Tracking.** From the ``T``-th frame on the window holds ``T`` real frames and the state
  is ``"tracking"``.
- **Lost track.** When the 2D detector finds no person the pipeline calls :meth:`reset` and
  publishes state ``"lost"`` (the window has no such state: it only ever sees frames with a
  person). The next pose starts a new window (``"warming"`` again).
- **Gaps.** If more than ``max_gap_s`` passes between two frames (the camera stalled, frames
  were dropped, the clock jumped), or a timestamp goes backwards, the old frames no longer
  describe recent motion: the window resets itself before taking the new frame and sets
  :attr:`WindowResult.restarted`, so the pipeline can reset the later stages too.

The window returned by :meth:`PoseWindow.process` is the caller's own array (a copy of one
contiguous slice of the ring buffer, 3.7 kB for ``T`` = 27), so a later stage may keep it.
Per frame the stage writes two rows of the buffer and allocates nothing but that copy and
the result object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...engines.skeleton import NUM_JOINTS
from ..errors import OptionsError

WindowState = Literal["warming", "tracking"]


@dataclass(frozen=True)
class PoseWindowOptions:
    """``window_frames``: ``T``, the lifter's window length (from the model's metadata).
    ``max_gap_s``: a longer gap between frames restarts the window; ``None`` never does."""

    window_frames: int = 27
    max_gap_s: float | None = 0.5

    def __post_init__(self) -> None:
        if self.window_frames < 1:
            raise OptionsError(f"window_frames must be >= 1, got {self.window_frames}")
        if self.max_gap_s is not None and not self.max_gap_s > 0:
            raise OptionsError(f"max_gap_s must be > 0 seconds or None, got {self.max_gap_s}")


@dataclass(frozen=True)
class WindowResult:
    """``window``: ``(T, 17, 2)`` float32, oldest first (the caller's own copy).
    ``filled``: real frames in it (``1..T``). ``restarted``: this frame began a new window
    after a gap (not after an explicit :meth:`PoseWindow.reset`)."""

    window: np.ndarray
    filled: int
    state: WindowState
    restarted: bool = False


class PoseWindow:
    """Causal ring buffer of the last ``T`` normalised 2D poses (see the module docstring)."""

    def __init__(self, options: PoseWindowOptions | None = None) -> None:
        self.options = options or PoseWindowOptions()
        t = self.options.window_frames
        # Every frame is written twice (rows i and i + T), so the last T frames are always
        # one contiguous slice: a single memcpy hands the lifter its window.
        self._buffer = np.zeros((2 * t, NUM_JOINTS, 2), dtype=np.float32)
        self._max_gap_ns = None if self.options.max_gap_s is None else int(self.options.max_gap_s * 1e9)
        self._seen = 0
        self._newest = 0
        self._last_ns: int | None = None

    @property
    def window_frames(self) -> int:
        return self.options.window_frames

    @property
    def seen(self) -> int:
        """Frames taken since the last reset."""
        return self._seen

    def process(self, keypoints_norm: np.ndarray, capture_ns: int) -> WindowResult:
        """Append the current pose ``(17, 2)`` (normalised camera coordinates) captured at
        ``capture_ns`` (monotonic nanoseconds) and return the window ending with it."""
        if keypoints_norm.shape != (NUM_JOINTS, 2):
            raise ValueError(f"expected normalised keypoints of shape (17, 2), got {keypoints_norm.shape}")
        restarted = False
        if self._last_ns is not None and (
            capture_ns < self._last_ns
            or (self._max_gap_ns is not None and capture_ns - self._last_ns > self._max_gap_ns)
        ):
            self.reset()
            restarted = True
        self._last_ns = capture_ns
        t = self.options.window_frames
        if self._seen == 0:
            self._buffer[:] = keypoints_norm  # edge padding: every older slot holds the first pose
            self._newest = 0
        else:
            self._newest = (self._newest + 1) % t
            self._buffer[self._newest] = keypoints_norm
        self._buffer[self._newest + t] = keypoints_norm
        self._seen += 1
        window = self._buffer[self._newest + 1 : self._newest + 1 + t].copy()
        filled = min(self._seen, t)
        return WindowResult(window, filled, "tracking" if filled == t else "warming", restarted)

    def reset(self) -> None:
        """Forget every frame (lost track, new subject); the next pose starts a new window."""
        self._seen = 0
        self._last_ns = None

    def close(self) -> None:
        """Nothing to release; present for the stage interface."""
