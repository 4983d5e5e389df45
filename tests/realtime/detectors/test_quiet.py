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


_WRITERS = """
import logging, os, sys
from posecast.realtime.detectors.quiet import quiet_native_stderr

class ColourHandler(logging.StreamHandler):  # as colour log handlers are written
    pass

logging.getLogger().addHandler(ColourHandler(sys.stderr))
with quiet_native_stderr():
    os.write(2, b"native line\\n")
    print("python line", file=sys.stderr, flush=True)
    logging.getLogger("plugin").warning("handler line")
print("after", file=sys.stderr, flush=True)
"""


def test_only_what_writes_below_python_is_muted(tmp_path) -> None:
    """QA: an embedding program's other thread printing to ``sys.stderr`` lost 120 of 163 lines
    while MediaPipe loaded, and a ``StreamHandler`` subclass lost its warnings; only native
    writes to fd 2 are to be muted."""
    import subprocess
    import sys

    script = tmp_path / "writers.py"
    script.write_text(_WRITERS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["python line", "handler line", "after"]
