"""Where the slots of a causal window fall between the frames a camera gave: one rule for the live
window (:mod:`posecast.realtime.lifting.window`) and for the training windows that imitate a
slower camera (:func:`posecast.engines.training.data.augment.slow_camera_windows`).

Slot ``i`` of a window of ``T`` is the pose at ``t_now − (T − 1 − i) / model_fps``, linearly
interpolated between the frames just before and after that time; the newest slot is the current
frame exactly. Slots older than the first frame repeat it (edge padding). The interpolation
weights are rounded to :data:`SNAP_FRACTION`, so a slot that falls on a frame is that frame
exactly and a source at the model's rate gives its frames bit for bit.

The live window calls this on every frame: :class:`WindowSlots` works in buffers allocated once.
"""

from __future__ import annotations

import numpy as np

#: A slot this close to a frame (fraction of the frame interval) is that frame exactly: the
#: interpolation weights are rounded to multiples of it (1/4096 of 33 ms is 8 µs).
SNAP_FRACTION = 1.0 / 4096


class WindowSlots:
    """The slots of a ``window_frames`` window at ``model_fps`` (times in integer nanoseconds)."""

    def __init__(self, window_frames: int, model_fps: float) -> None:
        t = window_frames
        self.period_ns = 1e9 / model_fps
        #: slot i is taken at t_now - offsets_ns[i] (oldest first, the last is 0: the current frame)
        self.offsets_ns = np.round(np.arange(t - 1, -1, -1) * self.period_ns).astype(np.int64)
        self._targets = np.zeros(t, np.int64)
        self._lower = np.zeros(t, np.intp)
        self._t_lower = np.zeros(t, np.int64)
        self._span = np.zeros(t, np.int64)
        self._weight = np.zeros(t, np.float64)
        self._w_upper = np.zeros((t, 1, 1), np.float32)
        self._w_lower = np.zeros((t, 1, 1), np.float32)

    def weights(self, times_ns: np.ndarray, now_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For frames at ascending ``times_ns`` (at least two) and the window ending at ``now_ns``:
        ``lower`` ``(T,)`` the index of the last frame at or before each slot (clamped so that the
        frame after it exists), and the weights ``(T, 1, 1)`` float32 of that frame and of the next,
        so slot ``i`` = ``w_lower[i] · pose[lower[i]] + w_upper[i] · pose[lower[i] + 1]``. The arrays
        are this object's buffers, overwritten by the next call."""
        targets, lower, t_lower, span, weight = self._targets, self._lower, self._t_lower, self._span, self._weight
        np.subtract(now_ns, self.offsets_ns, out=targets)
        # (np.maximum/np.minimum: the same numbers as np.clip without its Python wrapper, every frame)
        np.subtract(times_ns.searchsorted(targets, side="right"), 1, out=lower)
        np.minimum(np.maximum(lower, 0, out=lower), len(times_ns) - 2, out=lower)
        times_ns.take(lower, out=t_lower)
        times_ns[1:].take(lower, out=span)  # the frame after each lower one, without an index array
        np.subtract(span, t_lower, out=span)
        np.subtract(targets, t_lower, out=targets)  # now: each slot's time after its lower frame
        # weight of the upper frame, in [0, 1] rounded to SNAP_FRACTION: 0 and 1 give a frame exactly
        np.multiply(targets, round(1.0 / SNAP_FRACTION), out=targets)
        np.divide(targets, span, out=weight)
        np.rint(weight, out=weight)
        np.minimum(np.maximum(weight, 0.0, out=weight), 1.0 / SNAP_FRACTION, out=weight)  # < 0: a padded slot
        np.multiply(weight, SNAP_FRACTION, out=self._w_upper[:, 0, 0], casting="same_kind")
        np.subtract(1.0, self._w_upper, out=self._w_lower)
        return lower, self._w_lower, self._w_upper
