"""The causal window of recent 2D poses that the lifting network reads, resampled to the model's rate.

:class:`PoseWindow` keeps the recent intrinsics-normalised 2D poses ``(17, 2)`` of one tracked
person with their timestamps and hands the lifter a ``(T, 17, 2)`` window sampled at the
model's frame rate (``model_fps``, 30 for the shipped models: training resamples every clip to
30 fps), oldest first, newest last. The window covers a fixed time, ``(T − 1) / model_fps``
(0.87 s for T = 27), whatever the source's rate: a 5 fps clip and a 60 fps camera give the
network the motion it was trained on.

Resampling (:class:`posecast.engines.window_slots.WindowSlots`, the rule training's slow-camera
windows use too): window slot ``i`` is the pose at ``t_now − (T − 1 − i) / model_fps``, linearly
interpolated between the two frames around that time. It is causal (only frames already seen)
and adds no latency: the newest slot is the current frame exactly. A slot that falls (to within
:data:`SNAP_FRACTION` of a frame interval) on a frame is that frame exactly, so a source at the
model's rate gives bit for bit the frames themselves.

Policy (what the pipeline and the README rely on):

- **Start-up (edge padding).** Slots older than the first frame since the last reset repeat
  that frame, the same padding the lifter is trained with. The state is ``"warming"`` until the
  frames seen span the whole window (``(T − 1) / model_fps`` of time, to within a millisecond:
  files stamp frames in whole milliseconds), and the pose is still
  lifted and published; :attr:`WindowResult.filled` says how many slots are not padding.
- **Tracking.** From then on every slot is real and the state is ``"tracking"``.
- **Dropouts.** Frames without this person are simply not pushed: the next frame within
  ``max_gap_s`` is interpolated across the gap, so a short dropout keeps the window (and the
  state ``"tracking"``).
- **Gaps.** If more than ``max_gap_s`` passes between two frames (a long dropout, a stalled
  camera, a clock jump), or a timestamp goes backwards, the old frames no longer describe
  recent motion: the window resets itself before taking the new frame and sets
  :attr:`WindowResult.restarted`. A frame with the newest frame's timestamp replaces it.

Cost: per frame the stage writes one row of its history and does a fixed number of small numpy
operations into buffers allocated once (about 20 µs, measured by ``tools/temporal_metrics.py``);
the window returned is the caller's own array (3.7 kB for ``T`` = 27), so a later stage may
keep it. The history holds the frames of the last window span: it grows (rarely, by doubling)
only for a source faster than its first size allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ...engines.skeleton import NUM_JOINTS
from ...engines.window_slots import MAX_BRIDGED_GAP_S, SNAP_FRACTION, WindowSlots
from ..errors import OptionsError

WindowState = Literal["warming", "tracking"]
#: The coarsest clock a file's frame times come on (container timestamps in milliseconds)
_STAMP_PRECISION_NS = 1_000_000
_FIRST_CAPACITY = 128  # frames of history before the first growth: 4.2 s at 30 fps, 1 s at 120 fps


@dataclass(frozen=True)
class PoseWindowOptions:
    """``window_frames``: ``T``, the lifter's window length; ``model_fps``: the rate its frames
    are sampled at (both from the model's metadata), 1..1000 Hz. ``max_gap_s``: a longer gap
    between frames restarts the window; ``None`` never does."""

    window_frames: int = 27
    model_fps: float = 30.0
    max_gap_s: float | None = MAX_BRIDGED_GAP_S

    def __post_init__(self) -> None:
        if self.window_frames < 1:
            raise OptionsError(f"window_frames must be >= 1, got {self.window_frames}")
        if not 1.0 <= self.model_fps <= 1000.0:
            raise OptionsError(f"model_fps must be from 1 to 1000 Hz, got {self.model_fps}")
        if self.max_gap_s is not None and not self.max_gap_s > 0:
            raise OptionsError(f"max_gap_s must be > 0 seconds or None, got {self.max_gap_s}")


@dataclass(frozen=True)
class WindowResult:
    """``window``: ``(T, 17, 2)`` float32, oldest first (the caller's own copy).
    ``filled``: slots not padded (``1..T``). ``restarted``: this frame began a new window
    after a gap (not after an explicit :meth:`PoseWindow.reset`)."""

    window: np.ndarray
    filled: int
    state: WindowState
    restarted: bool = False


class PoseWindow:
    """Causal window of the last ``(T − 1) / model_fps`` seconds of normalised 2D poses,
    resampled to the model's rate (see the module docstring)."""

    def __init__(self, options: PoseWindowOptions | None = None) -> None:
        self.options = o = options or PoseWindowOptions()
        t = o.window_frames
        #: where each slot falls between the frames seen (the rule training's slow cameras use too)
        self._slots = WindowSlots(t, o.model_fps)
        self._offsets_ascending = self._slots.offsets_ns[::-1].copy()
        # a slot within a millisecond of the first frame is filled: files stamp frames to the
        # millisecond, and 26 steps of 1/30 s then span 866 ms, short of 866.67 (QA: one more frame
        # warming after each restart of an MKV or WebM)
        self._tolerance_ns = max(int(self._slots.period_ns * SNAP_FRACTION),
                                 min(_STAMP_PRECISION_NS, self._slots.period_ns // 2))  # (a 1 kHz model: half a slot)
        self._max_gap_ns = None if o.max_gap_s is None else int(o.max_gap_s * 1e9)
        self._times = np.zeros(_FIRST_CAPACITY, np.int64)
        self._poses = np.zeros((_FIRST_CAPACITY, NUM_JOINTS, 2), np.float32)
        # per-frame scratch, allocated once
        self._a = np.zeros((t, NUM_JOINTS, 2), np.float32)
        self._b = np.zeros((t, NUM_JOINTS, 2), np.float32)
        self._lo = self._hi = 0  # the history is rows lo..hi-1 of the buffers, oldest first
        self._seen = 0

    @property
    def window_frames(self) -> int:
        return self.options.window_frames

    @property
    def seen(self) -> int:
        """Frames taken since the last reset."""
        return self._seen

    def process(self, keypoints_norm: np.ndarray, capture_ns: int) -> WindowResult:
        """Add the current pose ``(17, 2)`` (normalised camera coordinates) captured at
        ``capture_ns`` (monotonic nanoseconds) and return the window ending with it."""
        if keypoints_norm.shape != (NUM_JOINTS, 2):
            raise ValueError(f"expected normalised keypoints of shape (17, 2), got {keypoints_norm.shape}")
        restarted = False
        if self._hi > self._lo:
            last_ns = int(self._times[self._hi - 1])
            if capture_ns < last_ns or (self._max_gap_ns is not None and capture_ns - last_ns > self._max_gap_ns):
                self.reset()
                restarted = True
            elif capture_ns == last_ns:
                self._hi -= 1  # the same instant again: the newer pose replaces it
                self._seen -= 1
        self._append(keypoints_norm, capture_ns)
        self._seen += 1
        t = self.options.window_frames
        window = np.empty((t, NUM_JOINTS, 2), np.float32)
        if self._hi - self._lo == 1:  # one frame: every slot is it (edge padding)
            window[:] = keypoints_norm
            return WindowResult(window, 1, "tracking" if t == 1 else "warming", restarted)
        filled = self._resample(capture_ns, window)
        return WindowResult(window, filled, "tracking" if filled == t else "warming", restarted)

    def _resample(self, now_ns: int, out: np.ndarray) -> int:
        """Interpolate the history at the slots' times into ``out`` ``(T, 17, 2)``; returns how
        many slots are not padding. Forgets the frames no later window needs."""
        lo, hi = self._lo, self._hi
        times = self._times[lo:hi]
        lower, w_lower, w_upper = self._slots.weights(times, now_ns)
        self._poses[lo:hi].take(lower, axis=0, out=self._a)
        self._poses[lo + 1 : hi].take(lower, axis=0, out=self._b)
        np.multiply(self._a, w_lower, out=self._a)
        np.multiply(self._b, w_upper, out=self._b)
        np.add(self._a, self._b, out=out)
        # slots later than the first frame seen (to within the tolerance) are not padding
        filled = int(self._offsets_ascending.searchsorted(now_ns - int(times[0]) + self._tolerance_ns, side="right"))
        self._lo = lo + int(lower[0])  # later slots are later in time: older frames are never needed again
        return filled

    def _append(self, keypoints_norm: np.ndarray, capture_ns: int) -> None:
        if self._hi == len(self._times):  # full: move the history to the front, doubling if needed
            count = self._hi - self._lo
            if count > len(self._times) // 2:
                self._times = np.concatenate([self._times, np.zeros_like(self._times)])
                self._poses = np.concatenate([self._poses, np.zeros_like(self._poses)])
            self._times[:count] = self._times[self._lo : self._hi]
            self._poses[:count] = self._poses[self._lo : self._hi]
            self._lo, self._hi = 0, count
        self._times[self._hi] = capture_ns
        self._poses[self._hi] = keypoints_norm
        self._hi += 1

    def reset(self) -> None:
        """Forget every frame (a long gap, a new subject); the next pose starts a new window."""
        self._lo = self._hi = 0
        self._seen = 0

    def close(self) -> None:
        """Nothing to release; present for the stage interface."""
