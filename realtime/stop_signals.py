"""Stop signals (Ctrl-C, SIGTERM, SIGHUP) for the commands: raised as an exception in the main
thread so the same clean-up runs for each (:func:`stop_signals_interrupt`), or held while a
section must not be cut in two (:func:`stop_signals_deferred`: loading native modules, moving a
set of result files in); ignored once the command is done and the process exits
(:func:`ignore_stop_signals_until_exit`); and kept from a helper process the command stops itself
(:func:`start_helper_process`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

log = logging.getLogger("posecast.realtime.cli")  # (its lines read as the command's, as before)

#: Ctrl-C, SIGTERM and SIGHUP (the terminal closing): every command stops the same way on each.
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())


#: Stop signals that came while their delivery was deferred (:func:`stop_signals_deferred`),
#: ``None`` outside: a thread that does not block them (numpy's OpenBLAS threads, started when
#: numpy is imported, before the block) takes one, and Python runs the handler in the main
#: thread all the same: a Ctrl-C broke onnxruntime's import under load (CI, 1 of 1,590 tests).
_deferred_signals: list[int] | None = None


#: The stop signal last raised as :class:`Interrupted`, until the command has handled it
#: (:func:`stop_handled`). Python runs a handler between any two bytecodes, also inside a weakref
#: callback or a finaliser, where it prints "Exception ignored in: …" and drops the exception:
#: 3 of 50 Ctrl-Cs during `posecast bench` were lost so, and the run finished with exit 0 (QA).
#: The pipeline raises it again at its next frame (:func:`raise_dropped_stop`).
_raised_stop: int | None = None


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGTERM), raised like Ctrl-C's KeyboardInterrupt so the same clean-up runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """While inside: the stop signals raise :class:`Interrupted` in the main thread, once; a
    second stop signal while the outputs are being finished is only logged (``timeout`` sends
    SIGTERM to the process and its group, a user presses Ctrl-C twice: an interrupted clean-up
    left a temporary video and aborted in MediaPipe's teardown). The previous handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers (and receives the signals)
        return

    def stopping(signum: int, _frame: object) -> None:  # (a handler of this module: deferred sections keep it)
        log.warning("%s: already stopping, finishing the outputs (SIGKILL or Ctrl-\\ ends it at once)",
                    signal.Signals(signum).name)  # fmt: skip

    # one started ignored stays so: nohup ignores SIGHUP, a script's background job SIGINT
    handled = [stop for stop in STOP_SIGNALS if signal.getsignal(stop) is not signal.SIG_IGN]

    def interrupt(signum: int, _frame: object) -> None:
        if _deferred_signals is not None:  # delivered again once the deferred section ends
            _deferred_signals.append(signum)
            return
        global _raised_stop
        for stop in handled:
            signal.signal(stop, stopping)
        _raised_stop = signum
        raise Interrupted(signum)

    stopping.posecast_handler = interrupt.posecast_handler = True
    previous = {stop: signal.signal(stop, interrupt) for stop in handled}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
        stop_handled()  # outside, nothing raises it again


def raise_dropped_stop() -> None:
    """Raise :class:`Interrupted` again for a stop signal whose first one Python dropped (see
    :data:`_raised_stop`); called where a command goes on frame by frame."""
    if _raised_stop is not None:
        raise Interrupted(_raised_stop)


def stop_handled() -> None:
    """The command has caught the stop signal's :class:`Interrupted`: it is not raised again."""
    global _raised_stop
    _raised_stop = None


@contextlib.contextmanager
def stop_signals_deferred() -> Iterator[None]:
    """While inside, the stop signals stay pending in the main thread (and in threads started
    here, which inherit the mask); they are delivered, as usual, when it ends. Measured: a
    Ctrl-C while onnxruntime's extension initialised became ``ImportError: initialization
    failed`` (exit 1, a traceback); in another race it was lost and the run went on. One that
    another thread takes meanwhile is kept by :func:`stop_signals_interrupt`'s handler and sent
    again at the end."""
    global _deferred_signals, _raised_stop
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer = _deferred_signals
    _deferred_signals = [] if outer is None else outer
    # Outside the command line (the Python API) the handlers are Python's or the program's own: held
    # here too, or a signal another thread takes is raised inside the section all the same (review:
    # a Ctrl-C cut the recorder's footer-sync-rename, and the take got two footers).
    held = {} if outer is not None else {stop: signal.signal(stop, _hold) for stop in STOP_SIGNALS if _holdable(stop)}
    masked = hasattr(signal, "pthread_sigmask")
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS) if masked else None
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        pending, _deferred_signals = _deferred_signals, outer
        for stop, handler in held.items():
            signal.signal(stop, handler)
        if masked:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a blocked one is delivered now, as usual
        if outer is None and pending:  # the one another thread took: to this thread, handled at once
            if failed:  # the section's own error is what is said (a full disk, not "stopped"); the stop comes next
                _raised_stop = pending[0]
            else:
                _deliver(pending[0])


def _deliver(signum: int) -> None:
    """Hand a stop another thread took during a deferred section to this thread's handler, once:
    the Python handler called, not the signal raised again, which reached a wakeup fd a second
    time (asyncio's ``add_signal_handler`` ran twice for one Ctrl-C; API QA); a default one raised."""
    handler = signal.getsignal(signum)
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)


def _holdable(signum: int) -> bool:
    """Whether a deferred section holds ``signum`` with :func:`_hold`: not one ignored, not one set
    outside Python (``None``: it could not be put back), not one of this module's handlers."""
    handler = signal.getsignal(signum)
    return handler is not signal.SIG_IGN and handler is not None and not getattr(handler, "posecast_handler", False)


def _hold(signum: int, _frame: object) -> None:
    """A stop signal while a deferred section runs outside the command line's handlers: kept for its end."""
    if _deferred_signals is not None:
        _deferred_signals.append(signum)


def ignore_stop_signals_until_exit() -> None:
    """For a process's entry once its command has returned (its outputs finished, its last line
    said): the stop signals are ignored while the process exits. Python puts the default handlers
    back before it tears the native libraries down (MediaPipe's and ONNX Runtime's objects: 0.2 s on
    a 2-core VM), and a second Ctrl-C there killed the process by the signal (-2 to its parent, not
    130; SIGTERM's -15, not 143): the exit status stays the command's. Nothing in the exit waits on
    anything (posecast's threads are daemons); SIGKILL and Ctrl-\\ still end it. Main thread only."""
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)


def start_helper_process(process: BaseProcess) -> None:
    """Start ``process``, a ``spawn`` helper the command stops itself (the bench's subscribers), with
    the stop signals blocked (:func:`stop_signals_deferred`): it inherits the mask through its exec,
    so the Ctrl-C a terminal sends the whole process group waits there until its target calls
    :func:`helper_process_signals`. Ignored only from there, it came while the helper still imported
    posecast's modules: a ``KeyboardInterrupt`` traceback under the command's lines (QA: 8 of 60
    Ctrl-Cs during ``posecast bench``)."""
    if hasattr(signal, "pthread_sigmask"):  # (POSIX, where spawn starts multiprocessing's resource tracker)
        from multiprocessing import resource_tracker

        # started first: starting its own process, it unblocks SIGINT and SIGTERM in this thread
        resource_tracker.ensure_running()
    with stop_signals_deferred():
        process.start()


def helper_process_signals() -> None:
    """First thing in a helper started by :func:`start_helper_process`: Ctrl-C is its parent's to
    handle (which stops it), ignored here; SIGTERM and SIGHUP end it as by default, also one that
    came while it started."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (before the unblock: a pending Ctrl-C is dropped)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
