"""One rule for where a time falls between the frames a camera gave: the live window's buffered
:class:`WindowSlots` and :func:`frames_around` (a live take's BVH, recorded 2D for training) agree."""

from __future__ import annotations

import numpy as np
from posecast.engines.window_slots import SNAP_FRACTION, WindowSlots, frames_around, uniform_grid


def test_the_buffered_window_and_frames_around_are_one_rule() -> None:
    rng = np.random.default_rng(0)
    slots = WindowSlots(27, 30.0)
    for _ in range(50):  # a camera at 5-60 fps with jitter, the window ending on its newest frame
        steps = rng.uniform(1e9 / 60, 1e9 / 5, 40).astype(np.int64)
        times = np.cumsum(steps)
        now = int(times[-1])
        lower, w_lower, w_upper = slots.weights(times, now)
        expected_lower, expected_upper = frames_around(times, now - slots.offsets_ns)
        np.testing.assert_array_equal(lower, expected_lower)
        np.testing.assert_allclose(w_upper[:, 0, 0], expected_upper, atol=1e-6)
        np.testing.assert_allclose(w_lower[:, 0, 0], 1.0 - expected_upper, atol=1e-6)


def test_frames_around_snaps_pads_and_interpolates() -> None:
    times = np.array([0.0, 0.1, 0.3])
    lower, weight = frames_around(times, np.array([-1.0, 0.0, 0.05, 0.1 + 1e-7, 0.2, 0.3, 0.31]))
    np.testing.assert_array_equal(lower, [0, 0, 0, 1, 1, 1, 1])
    # before the first frame: that frame; on a frame (or a hair off): the frame exactly; past the last: it
    np.testing.assert_allclose(weight, [0.0, 0.0, 0.5, 0.0, 0.5, 1.0, 1.0])
    assert (np.rint(weight / SNAP_FRACTION) * SNAP_FRACTION == weight).all()


def test_the_uniform_grid_lasts_as_long_as_the_frames() -> None:
    grid = uniform_grid(np.array([2.0, 2.05, 2.19, 3.0]), 30.0)
    assert grid[0] == 2.0 and len(grid) == 31 and np.allclose(np.diff(grid), 1 / 30)
