"""The ``posecast`` console script: a stop signal while Python loads the command line (numpy,
OpenCV and the commands' modules: 0.2-0.5 s, before :func:`posecast.realtime.cli.main` handles the
signals) exits quietly with 128 + its number, as the commands do, instead of printing Python's
``KeyboardInterrupt`` traceback (QA); once the command has returned, one while the process exits
is ignored (:func:`.stop_signals.ignore_stop_signals_until_exit`). This module imports nothing heavy
itself (:mod:`.stop_signals` uses the standard library alone)."""

from __future__ import annotations

import os
import signal
import sys

from ..engines.host import (  # (the standard library alone)
    address_space_too_small,
    fewer_malloc_arenas,
    limit_error_text,
    tasks_too_few,
)
from .stop_signals import STOP_SIGNALS, ignore_stop_signals_until_exit  # (the standard library alone)


class _StoppedWhileLoading(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


#: The stop signals that came while loading (a native module may turn the exception into an ImportError).
_received: list[int] = []


def _stopped(signum: int, _frame: object) -> None:
    _received.append(signum)
    raise _StoppedWhileLoading(signum)


def main() -> int:
    # posecast's BLAS work is small matrices (rotations, 17x3 joints): one OpenBLAS thread does it as
    # fast, and its pool's start-up, a thread and buffer per core, hung for ever (100 % CPU, deaf to
    # every signal) under a 700 MB address-space limit and turned a thread limit into "stopped by
    # SIGINT" (constrained-machine QA); set before numpy loads, and a value the user set is kept
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)  # (options before it: -v)
    if (too_small := address_space_too_small(command) or tasks_too_few(command, sys.argv[1:])) is not None:
        print(f"posecast: error: {too_small}", file=sys.stderr)
        return 2
    fewer_malloc_arenas()  # (before the libraries start their threads)
    # one started ignored stays so (nohup, a script's background job), as cli.main keeps it
    previous = {s: signal.signal(s, _stopped) for s in STOP_SIGNALS if signal.getsignal(s) is not signal.SIG_IGN}
    try:
        from .cli import main as command_line
    except _StoppedWhileLoading as stop:
        return 128 + stop.signum
    except (MemoryError, ImportError, RuntimeError) as exc:  # a native module's start cut short by a signal or a limit
        if isinstance(exc, ImportError) and _received:
            return 128 + _received[0]
        if (text := limit_error_text(exc)) is None:
            raise
        print(f"posecast: error: {text}", file=sys.stderr)
        return 2
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
    try:
        return command_line()
    finally:  # the command is done: a second Ctrl-C while the process exits is not its end
        ignore_stop_signals_until_exit()


if __name__ == "__main__":
    sys.exit(main())
