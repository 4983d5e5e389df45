"""The stall log's decisions on a clock the test moves: which stalls are told one by one, the
summaries of the others, a stall going on is not steadiness, and what close() still says."""

from __future__ import annotations

import logging

import pytest
from posecast.realtime.sources.stall_log import STALLS_TOLD, WINDOW_S, StallLog


class Clock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def _stall(stalls: StallLog, clock: Clock, at_s: float, silent_s: float = 0.7) -> tuple[bool, bool]:
    clock.now_s = at_s
    told = stalls.started()
    assert stalls.started() is told  # asked again during the same stall: the same answer
    clock.now_s = at_s + silent_s
    return told, stalls.ended(silent_s)


def test_stalls_far_apart_are_all_told(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    stalls = StallLog("camera 0", clock)
    with caplog.at_level(logging.WARNING):
        decisions = [_stall(stalls, clock, 100.0 + i * WINDOW_S / 2) for i in range(10)]
    assert decisions == [(True, True)] * 10  # never more than 3 within a window
    assert not caplog.records


def test_a_flapping_source_is_counted_then_told_again_once_steady(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    stalls = StallLog("camera 0", clock)
    with caplog.at_level(logging.WARNING):
        decisions = [_stall(stalls, clock, 100.0 + 1.5 * i) for i in range(100)]  # 150 s of 0.7 s stalls
        clock.now_s = 100.0 + 1.5 * 99 + 0.7 + WINDOW_S - 0.1
        stalls.tick()
        said_before_steady = len(caplog.records)
        clock.now_s += 0.2
        stalls.tick()
    assert decisions[:STALLS_TOLD] == [(True, True)] * STALLS_TOLD
    assert decisions[STALLS_TOLD:] == [(False, False)] * (100 - STALLS_TOLD)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("camera 0 keeps stalling (4 times in 4 s)")
    counted = [int(m.split(" stalled ")[1].split()[0]) for m in messages if " more time" in m]
    assert sum(counted) == 100 - STALLS_TOLD and len(counted) == 3  # one a minute over 150 s, the last when steady
    assert said_before_steady == len(messages) - 1  # the steady line alone (the last count said at its minute)
    assert "has delivered without a stall for 60 s" in messages[-1]
    assert _stall(stalls, clock, clock.now_s + 1.0) == (True, True)  # told one by one again


def test_a_long_stall_is_not_taken_for_steadiness(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    stalls = StallLog("camera 0", clock)
    for i in range(STALLS_TOLD + 1):
        _stall(stalls, clock, 100.0 + i)
    clock.now_s = 110.0
    assert stalls.started() is False  # a stall that goes on for longer than a window
    with caplog.at_level(logging.WARNING):
        clock.now_s = 110.0 + 2 * WINDOW_S
        stalls.tick()
    assert not any("without a stall" in r.getMessage() for r in caplog.records)
    assert stalls.ended(2 * WINDOW_S) is False


def test_close_says_what_was_counted(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    stalls = StallLog("camera 0", clock)
    with caplog.at_level(logging.WARNING):
        for i in range(STALLS_TOLD + 2):
            _stall(stalls, clock, 100.0 + i)
        stalls.close()
        stalls.close()
    assert [r.getMessage() for r in caplog.records][1:] == [
        "camera 0 stalled 2 more times in the last 2 s (1.4 s without frames in all)"
    ]
