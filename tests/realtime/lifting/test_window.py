"""PoseWindow: edge padding while warming, ring order, resets on loss, gaps and clock jumps."""

from __future__ import annotations

import numpy as np
import pytest
from posecast.realtime.lifting.window import SNAP_FRACTION, PoseWindow, PoseWindowOptions

FRAME_NS = 33_333_333


def _poses(n: int) -> np.ndarray:
    """``n`` distinct poses ``(n, 17, 2)``: pose ``i`` is filled with ``i`` plus a joint ramp."""
    ramp = np.arange(34, dtype=np.float32).reshape(17, 2) * 1e-3
    return np.arange(n, dtype=np.float32)[:, None, None] + ramp


def _feed(window: PoseWindow, poses: np.ndarray, start_ns: int = 0):
    return [window.process(p, start_ns + i * FRAME_NS) for i, p in enumerate(poses)]


def test_first_frame_fills_the_whole_window():
    window = PoseWindow(PoseWindowOptions(window_frames=5))
    result = window.process(_poses(1)[0], 0)
    assert result.window.shape == (5, 17, 2) and result.window.dtype == np.float32
    assert np.array_equal(result.window, np.broadcast_to(_poses(1)[0], (5, 17, 2)))
    assert (result.filled, result.state, result.restarted) == (1, "warming", False)


def test_warming_pads_with_the_oldest_frame_then_tracks():
    poses = _poses(5)
    results = _feed(PoseWindow(PoseWindowOptions(window_frames=5)), poses)
    for k, result in enumerate(results, start=1):
        expected = np.concatenate([np.repeat(poses[:1], 5 - k, axis=0), poses[:k]])
        assert np.array_equal(result.window, expected), k
        assert result.filled == k
        assert result.state == ("tracking" if k == 5 else "warming")


def test_ring_keeps_the_last_frames_in_order_after_wrapping():
    poses = _poses(17)
    results = _feed(PoseWindow(PoseWindowOptions(window_frames=5)), poses)
    for k in range(5, 18):
        assert np.array_equal(results[k - 1].window, poses[k - 5 : k]), k
        assert results[k - 1].state == "tracking"


def test_window_of_one_frame():
    poses = _poses(3)
    results = _feed(PoseWindow(PoseWindowOptions(window_frames=1)), poses)
    assert [r.state for r in results] == ["tracking"] * 3
    assert np.array_equal(results[-1].window[0], poses[-1])


def test_reset_starts_a_new_window():
    window = PoseWindow(PoseWindowOptions(window_frames=4))
    _feed(window, _poses(6))
    window.reset()
    fresh = _poses(10)[9]
    result = window.process(fresh, 7 * FRAME_NS)
    assert (result.filled, result.state, result.restarted) == (1, "warming", False)
    assert np.array_equal(result.window, np.broadcast_to(fresh, (4, 17, 2)))


def test_a_gap_longer_than_max_gap_restarts_the_window():
    window = PoseWindow(PoseWindowOptions(window_frames=4, max_gap_s=0.2))
    _feed(window, _poses(6))
    within = window.process(_poses(7)[6], 5 * FRAME_NS + 200_000_000)  # exactly max_gap_s: kept
    assert within.state == "tracking" and not within.restarted
    after = window.process(_poses(8)[7], 5 * FRAME_NS + 200_000_000 + 200_000_001)
    assert (after.filled, after.state, after.restarted) == (1, "warming", True)
    assert np.array_equal(after.window, np.broadcast_to(_poses(8)[7], (4, 17, 2)))


def test_a_timestamp_going_backwards_restarts_the_window():
    window = PoseWindow(PoseWindowOptions(window_frames=3))
    _feed(window, _poses(4), start_ns=10 * FRAME_NS)
    result = window.process(_poses(1)[0], 0)
    assert result.restarted and result.filled == 1


def test_no_gap_limit_never_restarts():
    window = PoseWindow(PoseWindowOptions(window_frames=3, max_gap_s=None))
    _feed(window, _poses(3))
    result = window.process(_poses(4)[3], 3600 * 10**9)
    assert not result.restarted and result.state == "tracking"


def test_a_returned_window_is_not_changed_by_later_frames():
    window = PoseWindow(PoseWindowOptions(window_frames=3))
    first = window.process(_poses(1)[0], 0)
    kept = first.window.copy()
    _feed(window, _poses(5)[1:], start_ns=FRAME_NS)
    assert np.array_equal(first.window, kept)


def test_misuse_is_rejected():
    with pytest.raises(ValueError, match=r"shape \(17, 2\), got \(17, 3\)"):
        PoseWindow().process(np.zeros((17, 3), np.float32), 0)
    with pytest.raises(ValueError, match="window_frames must be >= 1, got 0"):
        PoseWindowOptions(window_frames=0)
    with pytest.raises(ValueError, match="max_gap_s must be > 0"):
        PoseWindowOptions(max_gap_s=0.0)


# -- time-based window: resampled to the model's rate (issue 10.7) -------------------------------


def _linear(times_s: np.ndarray) -> np.ndarray:
    """Poses ``(F, 17, 2)`` that move linearly in time: joint j at ``a_j + b_j · t``."""
    a = np.arange(34, dtype=np.float64).reshape(17, 2) * 1e-2
    b = np.linspace(-0.3, 0.5, 34).reshape(17, 2)
    return (a + b * np.asarray(times_s, np.float64)[:, None, None]).astype(np.float32)


def test_a_5_fps_source_tracks_once_the_window_time_is_covered():
    # T = 27 at 30 fps is 0.87 s: at 5 fps the 6th frame (1.0 s) covers it, not the 27th (5.2 s)
    window = PoseWindow(PoseWindowOptions(window_frames=27, model_fps=30.0))
    times = np.arange(8) * 0.2
    results = [window.process(p, round(t * 1e9)) for p, t in zip(_linear(times), times, strict=True)]
    assert [r.state for r in results] == ["warming"] * 5 + ["tracking"] * 3
    assert results[4].filled == 25  # at 0.8 s the two oldest slots (0.867, 0.833 s ago) are padding
    assert results[-1].filled == 27


def test_frames_stamped_to_the_millisecond_track_at_the_27th():
    """QA: an MKV's 30 fps frames, stamped in whole milliseconds, span 866 ms over 26 steps, short
    of the window's 866.67: one more frame warming after every restart."""
    window = PoseWindow(PoseWindowOptions(window_frames=27, model_fps=30.0))
    stamps_ns = [(i * 1000 // 30) * 1_000_000 for i in range(28)]  # truncated, as a container's clock
    assert stamps_ns[26] == 866_000_000
    states = [window.process(p, t).state for p, t in zip(_poses(28), stamps_ns, strict=True)]
    assert states == ["warming"] * 26 + ["tracking"] * 2


@pytest.mark.parametrize(("fps", "model_fps"), [(5.0, 30.0), (12.5, 30.0), (24.0, 30.0), (50.0, 30.0), (1000.0, 30.0),
                                               (30.0, 15.0), (7.0, 60.0)])  # fmt: skip
def test_the_window_holds_the_pose_at_the_model_frame_times(fps: float, model_fps: float):
    # motion linear in time: interpolation is exact, so slot i is the pose at now - (26 - i) / model_fps
    window = PoseWindow(PoseWindowOptions(window_frames=27, model_fps=model_fps))
    times = np.arange(int(2.0 * fps)) / fps
    for pose, t in zip(_linear(times), times, strict=True):
        result = window.process(pose, round(t * 1e9))
    assert result.state == "tracking"
    slot_times = times[-1] - np.arange(26, -1, -1) / model_fps
    # the weights are rounded to SNAP_FRACTION: at most half of it of a frame's motion (speeds <= 0.5/s)
    np.testing.assert_allclose(result.window, _linear(slot_times), atol=SNAP_FRACTION / 2 * 0.5 / fps + 2e-6)
    assert np.array_equal(result.window[-1], _linear(times[-1:])[0])  # the current frame exactly


def test_at_twice_the_model_rate_the_window_is_every_other_frame_exactly():
    poses = np.random.default_rng(0).normal(size=(80, 17, 2)).astype(np.float32)
    window = PoseWindow(PoseWindowOptions(window_frames=27, model_fps=30.0))
    for i, pose in enumerate(poses):
        result = window.process(pose, int(i * 1e9 / 60))
    assert np.array_equal(result.window, poses[-53::2])


def test_a_short_dropout_is_bridged():
    # frames at 30 fps, then 0.4 s without the person: the window goes on, interpolated across
    window = PoseWindow(PoseWindowOptions(window_frames=27, model_fps=30.0, max_gap_s=0.5))
    times = np.concatenate([np.arange(40), np.arange(52, 56)]) / 30.0
    for pose, t in zip(_linear(times), times, strict=True):
        result = window.process(pose, round(t * 1e9))
        assert not result.restarted
    assert result.state == "tracking" and window.seen == 44
    expected = _linear(times[-1] - np.arange(26, -1, -1) / 30.0)
    np.testing.assert_allclose(result.window, expected, atol=SNAP_FRACTION / 2 * 0.5 * 0.4 + 2e-6)


def test_the_same_timestamp_again_replaces_the_newest_frame():
    window = PoseWindow(PoseWindowOptions(window_frames=3, model_fps=30.0))
    poses = _poses(3)
    window.process(poses[0], 0)
    window.process(poses[1], FRAME_NS)
    result = window.process(poses[2], FRAME_NS)
    assert window.seen == 2 and np.array_equal(result.window, poses[[0, 0, 2]])


def test_model_fps_is_checked():
    with pytest.raises(ValueError, match="model_fps must be from 1 to 1000 Hz, got 0"):
        PoseWindowOptions(model_fps=0)
