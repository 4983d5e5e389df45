"""Progress bars for long runs (``run``/``demo`` without a window, ``lift``, ``calibrate subject``).

A bar shows on stderr only when stderr is a terminal (never in logs, pipes or CI) and nothing
else writes per-frame lines to the same terminal; log lines are printed above it, not through it.
Both go through an :class:`UnblockingWriter`, which writes a line at once while the terminal can
take it and leaves the rest to a thread of its own: a terminal that stops reading (Ctrl-S, a
scrolled-back tmux pane) blocked the loop the bar counts, and so the live pipeline (environment
QA: 236 camera frames lost and the publisher silent for 8 s). The command line writes all of its
stderr so, bar or not (:func:`stderr_written_by_a_thread`): without a bar, a log line of a
pipeline's thread to a reader that stalls (``posecast run ... 2>&1 | slow_reader``) held the
pipeline up the same way.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import queue
import select
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress(items: Iterable[T], total: int | None, desc: str, unit: str = "frame",
             enabled: bool = True) -> Iterator[T]:  # fmt: skip
    """Yield ``items`` with a progress bar of ``total`` steps (``None``/0: a counter with the
    rate) when ``enabled`` and stderr is a terminal."""
    if not (enabled and _is_terminal(sys.stderr)):
        yield from items
        return
    # the command line's stderr is one already: the bar and every other line in one queue, in order
    shared = isinstance(sys.stderr, UnblockingWriter)
    terminal = sys.stderr if shared else UnblockingWriter(sys.stderr)
    try:
        with _logs_above(terminal), tqdm(items, total=total or None, desc=desc, unit=unit, leave=False,
                                         dynamic_ncols=True, file=terminal) as bar:  # fmt: skip
            yield from bar
    finally:
        if not shared:
            terminal.close()


class UnblockingWriter:
    """A text stream whose writers do not wait for the terminal: a write of at most ``PIPE_BUF``
    bytes goes to ``stream`` at once while ``stream`` has room for it and nothing is waiting (so
    that the lines before a crash in native code are out: QA, all were lost while they waited for
    the thread), else it is queued and written, in order, by a thread of its own (a longer one
    too: a pipe's room is one page; review, a 10 KB traceback waited 3 s for a slow reader, and
    every other thread's line behind it). Only the thread in that write can still wait, where the
    terminal stops between the check and the write (microseconds); others queue meanwhile. Nothing
    is dropped below ``most`` writes waiting (a bar's refreshes, ten a second, about 100 bytes each:
    a terminal stopped for an hour holds 4 MB); past it, more are dropped and counted. Once closed,
    writes go to ``stream`` directly (a thread's line after the command has ended).

    A text file's descriptor may be non-blocking (O_NONBLOCK, set by another process that shares
    it: some terminals, a node parent): a write then takes part of a line, or nothing (EAGAIN),
    and the rest was lost. Its bytes are written here instead, and the rest waits for room (poll):
    in the thread, or left to the thread by a write at once, ahead of every write after it."""

    def __init__(self, stream: TextIO, most: int = 100_000) -> None:
        self._stream = stream
        self._most = most
        # SimpleQueue: its put is reentrant, so a stop signal's handler that logs (stop_signals) cannot
        # deadlock a thread it interrupted inside write(), as Queue's lock could
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.dropped_writes = 0
        self._lock = threading.RLock()  # (reentrant for the same reason)
        self._closed = False
        self._waiting = 0  # writes queued and not yet written: while any, a write queues behind them
        self._writing = False  # a write at once under way: others queue (a signal handler's inside it too)
        self._written = threading.Condition(self._lock)  # the thread's next write waits for that one
        # a text file's descriptor, written with os.write (the stream's write lost a non-blocking one's rest); None:
        # any other stream (a program's own, whose write may do more than write to its descriptor) is written as one
        self._fd = _descriptor(stream) if isinstance(stream, io.TextIOWrapper) else None
        self._errors = getattr(stream, "errors", None) or "strict"
        self._rest = b""  # what a write at once left (a non-blocking descriptor was full): the thread's, first
        #: as the terminal's: tqdm draws its bar in ASCII for a stream without one (review)
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self._thread = threading.Thread(target=self._drain, name="posecast-terminal", daemon=True)
        self._thread.start()

    def write(self, text: str) -> int:
        with self._lock:  # (closed or not: a write is queued before the thread's end, or written here)
            closed = self._closed
            at_once = closed or not self._waiting and not self._writing and self._takes_now(text)
            if at_once:
                self._writing = not closed
            elif self._waiting < self._most:
                self._waiting += 1
                self._queue.put(text)
            else:
                self.dropped_writes += 1
        if at_once:  # (outside the lock: a terminal stopped between the check and the write holds this thread only)
            rest = b""
            try:  # (closed: no thread takes what a non-blocking descriptor leaves, so this one waits for room)
                rest = self._write(text, wait=closed)
            finally:
                with self._lock:
                    if rest:  # written by the thread before anything queued meanwhile or later
                        self._rest = rest
                        self._waiting += 1
                        self._queue.put("")  # (wakes the thread; it writes nothing)
                    self._writing = False
                    self._written.notify_all()
        return len(text)

    def _takes_now(self, text: str) -> bool:
        """Whether ``stream`` takes ``text`` without waiting: at most ``PIPE_BUF`` bytes (the room a
        writable pipe is sure to have) to a descriptor that is writable (a pipe or a terminal with
        room); of a stream without one (a program's own) nothing is known: queued."""
        if len(text) * 4 > select.PIPE_BUF and len(text.encode(self.encoding, "replace")) > select.PIPE_BUF:
            return False
        try:
            fd = self._stream.fileno()
        except (AttributeError, OSError, ValueError):
            return False
        try:
            return bool(select.select([], [fd], [], 0)[1])
        except (OSError, ValueError):
            return False

    def flush(self) -> None:
        """Nothing to do here: each write is flushed as it is written, at once or by the thread."""

    def fileno(self) -> int:  # (tqdm asks the terminal's width of it)
        return self._stream.fileno()

    def isatty(self) -> bool:  # (whether to draw a bar: the terminal's answer)
        return _is_terminal(self._stream)

    def _drain(self) -> None:
        while True:
            text = self._queue.get()
            with self._lock:  # after a write at once that is under way, and what it left: in order
                self._written.wait_for(lambda: not self._writing)
                rest, self._rest = self._rest, b""
            if rest and self._fd is not None:  # (only a descriptor leaves a rest)
                self._write_bytes(self._fd, rest, wait=True)
            if text is None:
                return
            self._write(text, wait=True)
            with self._lock:
                self._waiting -= 1

    def _write(self, text: str, wait: bool) -> bytes:
        """Write ``text``; return the bytes a non-blocking descriptor did not take, unless ``wait``."""
        if self._fd is not None:
            with contextlib.suppress(ValueError):  # (a character its encoding has not, errors="strict": as the stream)
                return self._write_bytes(self._fd, text.encode(self.encoding, self._errors), wait)
            return b""
        with contextlib.suppress(OSError, ValueError):  # (a closed terminal or pipe: no one to tell)
            self._stream.write(text)
            self._stream.flush()
        return b""

    def _write_bytes(self, fd: int, data: bytes, wait: bool) -> bytes:
        """``os.write`` all of ``data`` to ``fd``, the stream's descriptor, or (not ``wait``) what a
        non-blocking one takes now: return the rest. A blocking one takes it all, waiting as ever."""
        try:
            self._stream.flush()  # what its own buffer holds goes first
        except ValueError:  # closed: its number may be reused by another file
            return b""
        except OSError:  # (its own buffer could not go: this line still may)
            pass
        with contextlib.suppress(OSError):  # (a closed terminal or pipe: no one to tell)
            while data:
                try:
                    data = data[os.write(fd, data):]
                except BlockingIOError:  # full: wait until it has room (no spinning; a reader's end wakes it too)
                    if not wait:
                        return data
                    _wait_writable(fd)
        return b""

    def close(self, timeout_s: float | None = 1.0) -> None:
        """Let the thread write what is queued and end, waiting ``timeout_s`` at most (``None``: until
        all is written): a terminal still stopped keeps the rest, and the thread (a daemon) ends once
        it takes them."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)
        self._thread.join(timeout_s)


@contextlib.contextmanager
def stderr_written_by_a_thread() -> Iterator[UnblockingWriter | None]:
    """For the command line: while inside, ``sys.stderr`` is an :class:`UnblockingWriter`, so that
    no thread waits for a reader that stalls, and log lines, errors and the bar keep their order (one
    writer); at the end, everything written is written out before the command exits (a stop signal
    then gives up what the reader has not taken). ``None`` and stderr as it is where no thread can
    start (a limit on threads: the command's one line then says so). Not for a program that embeds
    posecast: its stderr and logging are its own."""
    real = sys.stderr
    try:
        writer = UnblockingWriter(_own_copy_of_fd2(real) if _writes_to_fd2(real) else real)
    except RuntimeError:  # no thread can start (a limit on threads): written directly, the command then says why
        yield None
        return
    sys.stderr = writer
    try:
        yield writer
    finally:
        if sys.stderr is writer:
            sys.stderr = real
        with contextlib.suppress(KeyboardInterrupt):  # (Ctrl-C at the end with the terminal stopped)
            writer.close(timeout_s=None)
            if writer.dropped_writes:
                print(f"posecast: {writer.dropped_writes} writes to stderr were left out: its reader fell far behind",
                      file=real)  # fmt: skip


def _wait_writable(fd: int) -> None:
    """Until ``fd`` can take a write (or its reader has gone). macOS's poll() does not take a
    terminal (it answers POLLNVAL at once: the writer would spin), so select() there; poll()
    elsewhere, which takes any descriptor number (select() only those under FD_SETSIZE)."""
    if sys.platform == "darwin":
        select.select([], [fd], [])
        return
    room = select.poll()  # (one each time: a poll object is for one thread at a time)
    room.register(fd, select.POLLOUT)
    room.poll()


def _descriptor(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # a stream in memory (pytest's), a closed one
        return None


def _writes_to_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):  # a replaced stream (pytest's), a closed one
        return False


def _own_copy_of_fd2(stream: TextIO) -> TextIO:
    """A stream on a copy of file descriptor 2, in ``stream``'s encoding and error handling: while
    MediaPipe loads and detects its first frames, fd 2 points at /dev/null (:mod:`.detectors.quiet`),
    and lines the thread writes then must not go there. Its descriptor is closed when the stream
    goes, not at exit (a line logged late still needs it)."""
    fd = os.dup(2)
    copy = io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding=getattr(stream, "encoding", None) or "utf-8",
                            errors=getattr(stream, "errors", None) or "backslashreplace",
                            write_through=True)  # fmt: skip
    weakref.finalize(copy, os.close, fd).atexit = False
    return copy


class _AboveTheBar(logging.Handler):
    """Writes a log line through :meth:`tqdm.write` to the bar's own stream: the bar is cleared,
    the line written, the bar drawn again, in order and without waiting for the terminal
    (tqdm's own ``logging_redirect_tqdm`` writes to the handler's stream, which may block)."""

    def __init__(self, stream: UnblockingWriter, replaced: logging.Handler) -> None:
        super().__init__(replaced.level)
        self._stream = stream
        self.setFormatter(replaced.formatter)
        for log_filter in replaced.filters:
            self.addFilter(log_filter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            tqdm.write(self.format(record), file=self._stream)
        except Exception:  # noqa: BLE001 - as logging's own handlers do
            self.handleError(record)


@contextlib.contextmanager
def _logs_above(stream: UnblockingWriter) -> Iterator[None]:
    """The root logger's handlers that write to stderr, replaced by :class:`_AboveTheBar` inside."""
    root = logging.getLogger()
    original = root.handlers
    try:
        root.handlers = [_AboveTheBar(stream, handler) if _to_stderr(handler) else handler for handler in original]
        yield
    finally:
        root.handlers = original


def _to_stderr(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.__stderr__)


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
