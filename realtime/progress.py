"""Progress bars for long runs (``run``/``demo`` without a window, ``lift``, ``calibrate subject``).

A bar shows on stderr only when stderr is a terminal (never in logs, pipes or CI) and nothing
else writes per-frame lines to the same terminal; log lines are printed above it, not through it.
Both are written by a thread of their own: a terminal that stops reading (Ctrl-S, a scrolled-back
tmux pane) blocked the loop the bar counts, and so the live pipeline (environment QA: 236 camera
frames lost and the publisher silent for 8 s).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
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
    terminal = UnblockingWriter(sys.stderr)
    try:
        with _logs_above(terminal), tqdm(items, total=total or None, desc=desc, unit=unit, leave=False,
                                         dynamic_ncols=True, file=terminal) as bar:  # fmt: skip
            yield from bar
    finally:
        terminal.close()


class UnblockingWriter:
    """A text stream whose writes are queued and written to ``stream`` by a thread of its own, so
    that the writer never waits for the terminal. Nothing is dropped below ``most`` writes waiting
    (a bar's refreshes, ten a second, about 100 bytes each: a terminal stopped for an hour holds
    4 MB); past it, more are dropped and counted."""

    def __init__(self, stream: TextIO, most: int = 100_000) -> None:
        self._stream = stream
        self._queue: queue.Queue[str | None] = queue.Queue(most)
        self.dropped_writes = 0
        #: as the terminal's: tqdm draws its bar in ASCII for a stream without one (review)
        self.encoding = getattr(stream, "encoding", None) or "utf-8"
        self._thread = threading.Thread(target=self._drain, name="posecast-terminal", daemon=True)
        self._thread.start()

    def write(self, text: str) -> int:
        try:
            self._queue.put_nowait(text)
        except queue.Full:
            self.dropped_writes += 1
        return len(text)

    def flush(self) -> None:
        """Nothing to do here: the thread flushes after each write."""

    def fileno(self) -> int:  # (tqdm asks the terminal's width of it)
        return self._stream.fileno()

    def _drain(self) -> None:
        while (text := self._queue.get()) is not None:
            with contextlib.suppress(OSError, ValueError):  # (a closed terminal: the bar is not worth an error)
                self._stream.write(text)
                self._stream.flush()

    def close(self, timeout_s: float = 1.0) -> None:
        """Let the thread write what is queued and end, waiting ``timeout_s`` at most: a terminal
        still stopped keeps the rest, and the thread (a daemon) ends once it takes them."""
        while True:
            try:
                self._queue.put(None, timeout=timeout_s)
                break
            except queue.Full:  # (full: one write less, so that the thread is told to end; review)
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                    self.dropped_writes += 1
        self._thread.join(timeout_s)


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
