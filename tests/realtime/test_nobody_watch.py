"""A run in which the 2D detector finds nobody says so once, with the usual causes."""

from __future__ import annotations

import logging

import pytest
from posecast.realtime.nobody_watch import FIRST_LOOK_S, NobodyWatch
from posecast.realtime.types import PersonPose, PoseFrame

FPS = 30


def frame_at(index: int, people: list[PersonPose]) -> PoseFrame:
    stamp_ns = int(index * 1e9 / FPS)
    return PoseFrame(index, stamp_ns, stamp_ns, (640, 480), people)


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "no person found" in r.getMessage()]


def test_nobody_for_five_seconds_is_said_once(caplog: pytest.LogCaptureFixture) -> None:
    watch = NobodyWatch("camera 0")
    with caplog.at_level(logging.INFO):
        for i in range(int(FIRST_LOOK_S * FPS)):
            watch.tick(frame_at(i, []))
        assert not said(caplog)  # 4.97 s of the stream: not yet
        for i in range(int(FIRST_LOOK_S * FPS), 12 * FPS):
            watch.tick(frame_at(i, []))
        watch.finish()
    assert len(said(caplog)) == 1
    assert said(caplog)[0].startswith("camera 0: no person found in its first 151 frames (5.0 s)")
    assert "closer" in said(caplog)[0]


def test_someone_found_is_never_followed_by_it(caplog: pytest.LogCaptureFixture) -> None:
    watch = NobodyWatch("camera 0")
    with caplog.at_level(logging.INFO):
        for i in range(10 * FPS):  # found in frame 30, gone from frame 31 on: the room emptied, not a bad framing
            watch.tick(frame_at(i, [PersonPose.lost(1)] if i == FPS else []))
        watch.finish()
    assert not said(caplog)


def test_a_short_run_with_nobody_says_it_at_its_end(caplog: pytest.LogCaptureFixture) -> None:
    watch = NobodyWatch("clip.mp4")
    with caplog.at_level(logging.INFO):
        for i in range(40):
            watch.tick(frame_at(i, []))
        assert not said(caplog)
        watch.finish()
    assert len(said(caplog)) == 1
    assert said(caplog)[0].startswith("clip.mp4: no person found in its first 40 frames (1.3 s)")
