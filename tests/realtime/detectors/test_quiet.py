"""Muting native stderr from several threads at once leaves fd 2 where it was (issue 15: a video
writer opening on its thread while MediaPipe's first frames were muted left fd 2 on /dev/null,
and the run's one-line error was never seen)."""

from __future__ import annotations

import os
import threading

from posecast.realtime.detectors.quiet import quiet_native_stderr


def _target() -> tuple[int, int]:
    status = os.fstat(2)
    return status.st_dev, status.st_ino


def test_overlapping_blocks_in_two_threads_restore_stderr() -> None:
    before = _target()
    devnull = os.stat(os.devnull)
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with quiet_native_stderr():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with quiet_native_stderr():  # first in
        thread.start()
        assert entered.wait(10)
    assert _target() == (devnull.st_dev, devnull.st_ino)  # the other thread's block still mutes
    release.set()  # last out
    thread.join(10)
    assert _target() == before
