"""Where the slots of a causal window fall between the frames a camera gave: one rule for the live
window (:mod:`posecast.realtime.lifting.window`) and for the training windows that imitate a
slower camera (:func:`posecast.engines.training.data.augment.slow_camera_windows`). The same rule
puts a live take's frames on a uniform time grid (:func:`frames_around`, :func:`uniform_grid`):
its BVH (:mod:`posecast.realtime.recording.export`) and the recorded 2D that training and
``posecast adapt`` read (:func:`posecast.engines.training.data.windows.load_recorded_2d`).

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
#: The longest gap between a person's frames bridged, seconds: the live window restarts after a
#: longer one (``max_gap_s``), and nothing is interpolated across it
MAX_BRIDGED_GAP_S = 0.5


def frames_around(times: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For frames at ascending ``times`` (at least two) and ``targets`` (the same unit): ``lower``
    ``(N,)``, the index of the last frame at or before each target (clamped so that the frame after
    it exists), and ``w_upper`` ``(N,)`` float64, the next frame's weight in [0, 1] rounded to
    :data:`SNAP_FRACTION`: target = ``(1 - w) · frame[lower] + w · frame[lower + 1]``; a target
    before the first frame or after the last is that frame. :meth:`WindowSlots.weights` is the
    same rule in buffers allocated once (it runs every frame)."""
    times = np.asarray(times)
    lower = np.clip(np.searchsorted(times, targets, side="right") - 1, 0, len(times) - 2)
    weight = np.rint((np.asarray(targets) - times[lower]) / (times[lower + 1] - times[lower]) / SNAP_FRACTION)
    return lower, np.clip(weight, 0.0, 1.0 / SNAP_FRACTION) * SNAP_FRACTION


def grid_frames(times_s: np.ndarray, fps: float) -> int:
    """How many times :func:`uniform_grid` gives for ascending ``times_s`` at ``fps``."""
    return int(round((times_s[-1] - times_s[0]) * fps)) + 1


def shorten_gaps(times_s: np.ndarray, max_step_s: float) -> tuple[np.ndarray, int, float]:
    """Ascending ``times_s`` with every step longer than ``max_step_s`` cut to it (the later
    frames moved earlier), how many were cut and the seconds taken out: a take with a gap of
    days (a suspended source, a clock that jumped) on a uniform grid was millions of frames."""
    excess_s = np.clip(np.diff(times_s) - max_step_s, 0.0, None)
    shifted = times_s - np.concatenate(([0.0], np.cumsum(excess_s)))
    return shifted, int((excess_s > 0).sum()), float(excess_s.sum())


def uniform_grid(times_s: np.ndarray, fps: float) -> np.ndarray:
    """Seconds ``1 / fps`` apart from the first of ascending ``times_s`` to the grid time nearest
    the last: the grid's frames × frame time is the span of ``times_s`` plus one frame."""
    return times_s[0] + np.arange(grid_frames(times_s, fps)) / fps


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
