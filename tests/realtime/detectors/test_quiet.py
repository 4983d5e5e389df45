"""Muting native stderr from several threads at once leaves fd 2 where it was (issue 15: a video
writer opening on its thread while MediaPipe's first frames were muted left fd 2 on /dev/null,
and the run's one-line error was never seen)."""

from __future__ import annotations

import os
import threading

import pytest
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
import logging, os, sys, threading
from posecast.realtime.detectors.quiet import quiet_native_stderr

class ColourHandler(logging.StreamHandler):  # as colour log handlers are written
    pass

logging.getLogger().addHandler(ColourHandler(sys.stderr))
with quiet_native_stderr():
    os.write(2, b"native line\\n")
    other = threading.Thread(target=lambda: print("python line", file=sys.stderr, flush=True))  # a program's own
    other.start()
    other.join()
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


_KEPT_STREAMS = """
import contextlib, io, logging, os, sys, tempfile, threading
from posecast.realtime.detectors.quiet import quiet_native_stderr

saved = io.StringIO()
with quiet_native_stderr():
    handler = logging.StreamHandler()  # made during the block: it takes the sys.stderr of then
    redirect = contextlib.redirect_stderr(saved)
    redirect.__enter__()  # another piece of code redirects during the block ...
with open(tempfile.mktemp(), "w") as other:  # takes the lowest free descriptor
    logging.getLogger("late").addHandler(handler)
    logging.getLogger("late").warning("handler line")
    redirect.__exit__(None, None, None)  # ... and puts back what it found after it
    print("after", file=sys.stderr, flush=True)
    print("a name that is not UTF-8: \\udcff", file=sys.stderr, flush=True)
    other.flush()
    print("other file:", repr(open(other.name).read()), file=sys.__stdout__, flush=True)
"""


def test_streams_kept_from_a_block_still_write_to_stderr(tmp_path) -> None:
    """Review: a handler made during a block, or a sys.stderr saved then and put back after it,
    kept a stream on a descriptor the block closed (lines went into the next file opened, or
    prints failed with EBADF); and the stream refused what sys.stderr prints escaped."""
    import subprocess
    import sys

    script = tmp_path / "kept.py"
    script.write_text(_KEPT_STREAMS)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == ["handler line", "after", "a name that is not UTF-8: \\udcff"], done.stderr
    assert done.stdout.strip() == "other file: ''"


#: A landmarker in a reference cycle, and a garbage collection run inside quiet_native_stderr's
#: bookkeeping (a stream whose fileno() collects; any allocation there can start one).
_COLLECTED_INSIDE = """
import gc, logging, sys
import numpy as np
from posecast.realtime.detectors.mediapipe import MediaPipeDetector, MediaPipeOptions
from posecast.realtime.detectors.quiet import quiet_native_stderr
from posecast.realtime.types import Frame

class CollectingStream:
    def write(self, text): sys.__stderr__.write(text)
    def flush(self): pass
    def fileno(self):
        gc.collect()
        return 2

logging.getLogger("x").addHandler(logging.StreamHandler(CollectingStream()))
gc.disable()
detector = MediaPipeDetector(MediaPipeOptions(model_path=sys.argv[1]))
detector.detect(Frame(0, 0, np.zeros((240, 320, 3), np.uint8), 30.0))
detector.cycle = detector
del detector
with quiet_native_stderr(True):
    pass
print("done", flush=True)
"""


def test_a_landmarker_collected_while_the_mute_is_set_up_does_not_hang(pose_model_path) -> None:  # noqa: ANN001
    """Review: the landmarker's finalizer muted MediaPipe's lines with quiet_native_stderr, whose lock
    its own thread held when the garbage collector ran it there: the program hung for ever."""
    import subprocess
    import sys

    try:
        done = subprocess.run([sys.executable, "-c", _COLLECTED_INSIDE, str(pose_model_path)], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("hung: the finalizer waited for the lock its own thread held")
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-2000:]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts this process's descriptors in /proc")
def test_pointing_fd2_elsewhere_again_and_again_leaks_no_descriptor(tmp_path) -> None:  # noqa: ANN001
    """Review: fd 2's copy was kept open for good (closefd False), one more descriptor each time fd 2
    was pointed elsewhere (pytest's capfd does it for every test); it is closed with its stream."""
    import gc

    saved = os.dup(2)
    try:
        with quiet_native_stderr(True):  # the copy of fd 2 as it is now, made once
            pass
        before = len(os.listdir("/proc/self/fd"))
        for n in range(20):
            with open(tmp_path / f"err{n}", "wb") as elsewhere:
                os.dup2(elsewhere.fileno(), 2)
                with quiet_native_stderr(True):
                    pass
        gc.collect()
        after = len(os.listdir("/proc/self/fd"))
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    assert after <= before + 1, (before, after)  # the last one's copy, held
