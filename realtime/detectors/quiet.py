"""Mute native libraries' log lines (glog, absl, TF Lite) without muting Python's logging.

MediaPipe's native libraries write INFO and WARNING lines straight to file descriptor 2 when
the model loads and on the first frames. :func:`quiet_native_stderr` points fd 2 at
``/dev/null`` for a block while Python's own writers keep writing to the real terminal: the
logging handlers that wrote to fd 2 (subclasses too: colour handlers are), and ``sys.stderr``
itself, which another thread of a program embedding posecast may print to meanwhile (QA: 120 of
its 163 lines were lost). Only what writes to fd 2 below Python is muted.
Blocks may overlap across threads (the detector on the pipeline's thread, a video writer opening
on its own): fd 2 is redirected by the first and restored by the last, never left pointing at
``/dev/null`` (which would hide every later error line).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import threading
import weakref
from collections.abc import Iterator

_lock = threading.Lock()
_depth = 0  # blocks inside quiet_native_stderr now, in any thread
_restore: list = []  # what the outermost block restores


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Point file descriptor 2 at ``/dev/null`` for the block, so native libraries' log lines
    vanish, while Python's logging handlers that wrote to stderr keep writing to the real one."""
    global _depth
    if not enabled:
        yield
        return
    with _lock:
        if _depth == 0:
            try:
                sys.stderr.flush()
                saved_fd = os.dup(2)
            except (OSError, ValueError):  # no usable fd 2 (e.g. a closed stderr): nothing to hide
                saved_fd = None
            if saved_fd is not None:
                real_stderr = _stream_on_fd2()
                moved = _point_stderr_handlers_at(real_stderr)
                python_stderr = sys.stderr
                if _writes_to_fd2(python_stderr):
                    sys.stderr = real_stderr
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 2)
                os.close(devnull)
                _restore[:] = [(saved_fd, real_stderr, moved, python_stderr)]
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore:
                saved_fd, real_stderr, moved, python_stderr = _restore.pop()
                os.dup2(saved_fd, 2)
                if sys.stderr is real_stderr:  # (one a program set meanwhile stays)
                    sys.stderr = python_stderr
                for handler, stream in moved:
                    handler.setStream(stream)
                real_stderr.flush()
                os.close(saved_fd)


@contextlib.contextmanager
def quiet_native_stderr_if_free(enabled: bool = True) -> Iterator[None]:
    """:func:`quiet_native_stderr`, or no muting while a block is being set up or taken down: for
    a finalizer, which the garbage collector may run in the middle of that, on the thread holding
    the lock (review: the landmarker's finalizer waited for its own thread for ever)."""
    if enabled and _lock.acquire(blocking=False):
        _lock.release()
        with quiet_native_stderr():
            yield
    else:
        yield


#: fd 2's target (device, inode) and a text stream on a copy of it, made when a block first needs
#: it and kept open while anything holds it, to the process's end: a handler made during a block, or
#: a sys.stderr some code saved then and puts back later, holds it (a copy closed at the block's end
#: sent such a handler's lines into whatever file took its number next; review). Made again when
#: fd 2 is pointed elsewhere; the copy it replaces is closed once nothing holds its stream.
_fd2_stream: tuple[tuple[int, int], io.TextIOWrapper] | None = None


def _stream_on_fd2() -> io.TextIOWrapper:
    """A stream writing where fd 2 writes now, in ``sys.stderr``'s encoding and error handling
    (a file name that is not UTF-8 is printed as Python prints it; review)."""
    global _fd2_stream
    status = os.fstat(2)
    target = (status.st_dev, status.st_ino)
    if _fd2_stream is None or _fd2_stream[0] != target:
        encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
        errors = getattr(sys.stderr, "errors", None) or "backslashreplace"
        # its descriptor closed when the stream goes (replaced, or at the exit) by a finalizer, not by
        # the file: one left to the exit was "ResourceWarning" under PYTHONWARNINGS (QA), and one kept
        # open for good leaked a descriptor each time fd 2 was pointed elsewhere (review)
        fd = os.dup(2)
        stream = io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding=encoding, errors=errors,
                                  write_through=True)  # fmt: skip
        # not at exit: a handler made during a block may still write through it then (review), and
        # the process's end closes it
        weakref.finalize(stream, os.close, fd).atexit = False
        _fd2_stream = (target, stream)
    return _fd2_stream[1]


def _point_stderr_handlers_at(stream: io.TextIOBase) -> list[tuple[logging.StreamHandler, object]]:
    """Re-point every logging StreamHandler that writes to fd 2 at ``stream``; returns what
    to restore."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    moved = []
    for handler in {h for lg in loggers for h in lg.handlers}:
        # any StreamHandler, a subclass too (QA: a colour handler's warnings were lost), on fd 2
        if isinstance(handler, logging.StreamHandler) and _writes_to_fd2(handler.stream):
            moved.append((handler, handler.setStream(stream)))
    return moved


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
