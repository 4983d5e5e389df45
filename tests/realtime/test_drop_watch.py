"""The warning while a live run falls behind its source (weak-machine QA: 42 % of a run dropped
at capture, said only at its end), on a clock the test moves."""

from __future__ import annotations

import logging
import re

import pytest
from posecast.realtime.drop_watch import CHECK_EVERY_S, FIRST_CHECK_S, DropWatch


def test_drops_are_said_while_they_go_on_once_a_look(caplog: pytest.LogCaptureFixture) -> None:
    clock, dropped = [0.0], [0]
    watch = DropWatch("camera 0", lambda: dropped[0], lambda: clock[0])
    with caplog.at_level(logging.WARNING):
        for second in range(0, 131):  # 30 frames a second offered: 17 processed, 13 dropped (looks from the first)
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


def test_a_pause_is_said_as_one_not_as_a_slow_machine(caplog: pytest.LogCaptureFixture) -> None:
    """Time QA: a run stopped 8 s (Ctrl-Z, a suspend) was said as "this machine is slower than the
    source". A paced file counts the frames it skipped at the read after the pause."""
    clock, dropped, frames = [0.0], [0], [0]
    watch = DropWatch("clip.mp4", lambda: dropped[0], lambda: clock[0])
    with caplog.at_level(logging.WARNING):
        for tick in range(1, 30 * 130):  # 30 frames a second, all processed, but 8 s held up at 9 s
            clock[0] = tick / 30 + (8.0 if tick > 9 * 30 else 0.0)
            if tick == 9 * 30 + 2:
                dropped[0] += 240  # skipped at the read after the pause
            frames[0] += 1
            watch.tick(frames[0])
    said = [r.getMessage() for r in caplog.records]
    assert said == ["clip.mp4: 240 of its 540 frames in the last 18 s were dropped at capture, 240 of them while "
                    "processing was held up (once for 8.0 s: the process stopped, the machine suspended or another "
                    "program holding the CPU)"], said


def test_a_pause_and_a_slow_machine_are_both_said(caplog: pytest.LogCaptureFixture) -> None:
    import re

    clock, dropped = [0.0], [0]
    watch = DropWatch("camera 0", lambda: dropped[0], lambda: clock[0])
    with caplog.at_level(logging.WARNING):
        for tick in range(1, 15 * 12):  # 30 offered a second, 15 processed (one dropped each), 5 s held up at 3 s
            clock[0] = tick / 15 + (5.0 if tick > 45 else 0.0)
            dropped[0] += 1 + (150 if tick == 46 else 0)
            watch.tick(tick)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said
    found = re.fullmatch(r"camera 0: (\d+) of its (\d+) frames in the last (\d+) s were dropped at capture, (\d+) of "
                         r"them while processing was held up \(once for 5\.1 s: .*\) \((\d+\.\d) processed a second\): "
                         r"this machine is slower than the source; .* help", said[0])  # fmt: skip
    assert found is not None, said
    # its 150, and the second after it
    assert 150 <= int(found[4]) <= 170 and float(found[5]) == pytest.approx(15.0, abs=0.5), said


def test_a_camera_stopped_with_the_process_drops_nothing_meanwhile(caplog: pytest.LogCaptureFixture) -> None:
    """Review: the drops were shared out by time, so an 8 s stop in which a camera captured nothing
    took 210 of a slow machine's drops and its warning went unsaid. Nor is a first frame that took
    long (the models loading) a pause."""
    clock, dropped = [0.0], [0]
    watch = DropWatch("camera 0", lambda: dropped[0], lambda: clock[0])
    clock[0] = 3.0  # the first frame, 3 s after the watch was made
    with caplog.at_level(logging.WARNING):
        for tick in range(1, 26 * 64):  # 30 offered a second, 26 processed, 4 dropped; nothing for 8 s at 20 s
            clock[0] = 3.0 + tick / 26 + (8.0 if tick > 26 * 20 else 0.0)
            dropped[0] += 1 if tick % 13 in (0, 6) else 0
            watch.tick(tick)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2 and all("this machine is slower than the source" in line for line in said), said
    assert said[0].startswith("camera 0: 40 of its 300 frames in the last 10 s were dropped at capture (26.0 "), said
    pause = re.search(r", (\d+) of them while processing was held up \(once for 8\.0 s", said[1])
    assert pause is not None and int(pause[1]) <= 5, said  # (the second after it: 4 a second)
