"""The warning while a live run falls behind its source (weak-machine QA: 42 % of a run dropped
at capture, said only at its end), on a clock the test moves."""

from __future__ import annotations

import logging

import pytest
from posecast.realtime.drop_watch import CHECK_EVERY_S, FIRST_CHECK_S, DropWatch


def test_drops_are_said_while_they_go_on_once_a_look(caplog: pytest.LogCaptureFixture) -> None:
    clock, dropped = [0.0], [0]
    watch = DropWatch("camera 0", lambda: dropped[0], lambda: clock[0])
    with caplog.at_level(logging.WARNING):
        for second in range(1, 131):  # 30 frames a second offered: 17 processed, 13 dropped
            clock[0] = float(second)
            dropped[0] += 13
            watch.tick(17 * second)
            if second == FIRST_CHECK_S - 1:
                assert not caplog.records  # nothing before the first look
    said = [r.getMessage() for r in caplog.records]
    # at 10 s, then every 60 s: 70 s and 130 s
    assert len(said) == 1 + int((130 - FIRST_CHECK_S) // CHECK_EVERY_S), said
    assert said[0].startswith("camera 0: 130 of its 300 frames in the last 10 s were dropped at capture (17.0 "
                              "processed a second): this machine is slower than the source")
    assert said[1].startswith("camera 0: 780 of its 1800 frames in the last 60 s")


def test_a_source_kept_up_with_is_not_said(caplog: pytest.LogCaptureFixture) -> None:
    clock, dropped = [0.0], [0]
    watch = DropWatch("camera 0", lambda: dropped[0], lambda: clock[0])
    with caplog.at_level(logging.WARNING):
        for second in range(1, 200):
            clock[0] = float(second)
            dropped[0] += 2  # 2 of 30 a second: under a tenth
            watch.tick(28 * second)
    assert not caplog.records
