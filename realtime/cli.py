"""The ``posecast`` command: a thin argparse front over the packages.

Every command is one module registered in :data:`posecast.realtime.commands.COMMANDS` (each
exposes ``register(subparsers)``); this module only builds the parser, sets up logging and
turns a :class:`PosecastError` into one line on stderr and exit code 2 (stdout is checked the same
way: a print to a full disk is one line, not a traceback). Training and evaluation
are tools in ``tools/`` (they need torch, which the live path never imports).

Ctrl-C (SIGINT), SIGTERM and SIGHUP (the terminal or SSH session closing) stop a command the same
way, wherever it is (loading models, running, writing): the interruption unwinds through every
``with`` and ``finally``, so outputs are finished (videos, recordings, statistics) and the exit
code is 128 + the signal's number (130, 143, 129), without a traceback. A signal the command was
started ignoring stays ignored (``nohup``, a background job of a script). Only while the parser
and the native libraries load do the signals wait (1.5-3 s on a busy 2-core VM): an exception
raised inside their initialisation is swallowed or turned into an ``ImportError`` by them. Before
this module has loaded, the console script's entry (:mod:`.launch`) exits quietly on them.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from ..engines import limit_image_pixels, uploads
from ..engines.errors import PosecastError, abbreviated, escaped, one_line, storable
from ..engines.fileio import OUT_OF_ROOM, point_at_devnull
from ..engines.host import limit_error_text, raise_open_file_limit
from .commands import register_all
from .help import PosecastParser, VersionAction, subcommands
from .progress import stderr_written_by_a_thread
from .stop_signals import (
    Interrupted,
    ignore_stop_signals_until_exit,
    stop_handled,
    stop_signals_deferred,
    stop_signals_interrupt,
)

log = logging.getLogger("posecast")

#: OpenCV's native log (``[ WARN:0@…]`` lines) and its FFmpeg's (``[tcp @ 0x…]`` lines) are
#: set by these variables, read when cv2 is imported and when FFmpeg first opens something, so
#: they are set before any command's module imports cv2; values the user set win.
_QUIET_NATIVE_ENV = (
    {"OPENCV_LOG_LEVEL": "SILENT"},
    {"OPENCV_FFMPEG_DEBUG": "1", "OPENCV_FFMPEG_LOGLEVEL": "-8"},  # -8: AV_LOG_QUIET (only read with DEBUG set)
)
_USER_SET_OPENCV_LOG = "OPENCV_LOG_LEVEL" in os.environ
#: Native libraries imported before a command runs, with the stop signals held back, when the
#: command takes the argument that says it will use them (its lifting backend, its MediaPipe model).
_NATIVE_MODULES = {"backend": ("onnxruntime",), "model_asset": ("mediapipe", "mediapipe.tasks.python.vision")}
#: ... and those imported only when the argument is given: export's lift hint asks whether a model's
#: INT8 copy runs (QA: a stop during that first import, after the files were written, was
#: ImportError's traceback and exit 1), which a BVH alone never asks
_NATIVE_MODULES_WHEN_GIVEN = {"lift_input": ("onnxruntime",)}
#: Ctrl-C, ``kill``, and the terminal or SSH session closing (SIGHUP: a run left half-written files)


def quiet_native_logs() -> None:
    """Silence OpenCV's and its FFmpeg's native log lines on stderr (unless the user set them)."""
    for group in _QUIET_NATIVE_ENV:
        if not any(name in os.environ for name in group):
            os.environ.update(group)


def build_parser() -> argparse.ArgumentParser:
    parser = PosecastParser(prog="posecast", description="Real-time 3D human pose from a webcam.")
    parser.add_argument("--version", action=VersionAction)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_all(sub)
    _verbose_anywhere(parser)
    return parser


VERBOSE_HELP = "debug logs, other libraries' log lines and native library output"


def _verbose_anywhere(parser: argparse.ArgumentParser) -> None:
    """``-v`` after the command too (``posecast run ... -v``), as users type it: every
    subcommand takes it; unless given there, the top level's value stands."""
    commands = subcommands(parser)
    for command in {id(p): p for p in commands.choices.values()}.values() if commands else ():  # aliases once
        if "--verbose" not in command._option_string_actions:
            command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP)
        _verbose_anywhere(command)


#: OpenCV 4's ``cv::utils::logging::LogLevel`` values (``cv2.setLogLevel`` takes the number).
_OPENCV4_LOG_LEVEL_SILENT, _OPENCV4_LOG_LEVEL_WARNING = 0, 3


class _OneLineFormatter(logging.Formatter):
    """Each message on one line: a name holding a line break is written as the errors write it
    (QA: ``--output-video $'new\\nline.webm'`` made "wrote 3 frames to new" and "line.webm ..." two
    lines). A traceback (``-v``) keeps its lines. A name that is not UTF-8 is written as the errors
    and ``bench.md`` write it, its bytes as ``\\xe9`` (stderr's backslashreplace wrote ``\\udce9``)."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        return escaped(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        return storable(super().format(record))


def configure_logging(verbose: bool) -> None:
    """posecast's own loggers at INFO (DEBUG with ``--verbose``), every other library's at
    WARNING (its INFO lines, e.g. matplotlib's font cache, stay hidden) and OpenCV's native log
    (``[ WARN:0@…]`` lines on stderr) silent; ``--verbose`` shows everything."""
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s"))
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, handlers=[handler])
    logging.getLogger("posecast").setLevel(logging.DEBUG if verbose else logging.INFO)
    if not _USER_SET_OPENCV_LOG:
        import cv2

        levels = getattr(cv2.utils, "logging", None)
        if levels is not None:  # OpenCV 5
            levels.setLogLevel(levels.LOG_LEVEL_WARNING if verbose else levels.LOG_LEVEL_SILENT)
        elif hasattr(cv2, "setLogLevel"):  # OpenCV 4 (pip takes it where numpy < 2: QA), whose levels are numbers
            cv2.setLogLevel(_OPENCV4_LOG_LEVEL_WARNING if verbose else _OPENCV4_LOG_LEVEL_SILENT)


def _load_native_modules(args: argparse.Namespace) -> None:
    wanted = [modules for argument, modules in _NATIVE_MODULES.items() if hasattr(args, argument)]
    wanted += [modules for argument, modules in _NATIVE_MODULES_WHEN_GIVEN.items()
               if getattr(args, argument, None) is not None]  # fmt: skip
    for modules in wanted:
        for module in modules:
            with contextlib.suppress(ImportError):  # a missing extra is reported by the command itself
                importlib.import_module(module)


def _quiet_cut_native_objects(previous: Callable[[object], None]) -> Callable[[object], None]:
    """A ``sys.unraisablehook`` for while a command runs: a MediaPipe object whose ``__init__`` a
    stop signal cut short fails in its ``__del__`` (``Image`` has no ``_image_ptr``), and Python
    printed that as "Exception ignored … Traceback" under the run's last line (CI, 1 of 2,107
    tests). Logged at debug level; anything else goes to ``previous``."""

    def hook(unraisable) -> None:  # noqa: ANN001 - sys.UnraisableHookArgs
        where = getattr(unraisable.object, "__module__", None) or ""
        if isinstance(unraisable.exc_value, AttributeError) and where.startswith("mediapipe."):
            log.debug("ignored in %r: %s", unraisable.object, unraisable.exc_value)
            return
        previous(unraisable)

    return hook


def main(argv: Sequence[str] | None = None) -> int:
    previous_hook = sys.unraisablehook
    sys.unraisablehook = _quiet_cut_native_objects(previous_hook)
    try:
        _open_closed_standard_streams()  # (before stderr's descriptor is copied)
        # every line on stderr through one writer, at once or by a thread of its own: a pipeline's thread that
        # logs never waits for a reader that stalls (`posecast run ... 2>&1 | slow_reader`: 60 frames dropped)
        with stderr_written_by_a_thread():
            return _stoppable_main(argv)
    finally:
        sys.unraisablehook = previous_hook


def _stoppable_main(argv: Sequence[str] | None) -> int:
    with stop_signals_interrupt():
        try:
            return _main(argv)
        except KeyboardInterrupt as exc:  # also while the commands load (imports, models)
            stop_handled()
            signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
            log.info("stopped by %s", signal.Signals(signum).name)
            return 128 + signum


def _main(argv: Sequence[str] | None) -> int:
    if (problem := raise_open_file_limit()) is not None:
        print(f"posecast: error: {problem}", file=sys.stderr)
        return 2
    words = sys.argv[1:] if argv is None else list(argv)
    uploads.block_native_uploads()  # before MediaPipe can close a landmarker (engines/uploads.py)
    limit_image_pixels()  # before cv2 is first imported (by the commands' modules), which reads it
    if not {"-v", "--verbose"} & set(words):
        quiet_native_logs()  # before cv2 is first imported (by the commands' modules)
    stdout = sys.stdout
    if stdout is None:  # no stdout at all (closed with >&-, pythonw, a service): what is printed goes nowhere,
        # as print() does then (a command writing to sys.stdout itself raised AttributeError)
        with open(os.devnull, "w") as nowhere:
            sys.stdout = nowhere
            try:
                return _run(argv)
            finally:
                sys.stdout = stdout
    sys.stdout = _CheckedStdout(stdout)
    try:
        code = _run(argv)
    except SystemExit as done:  # --help and --version (0), argparse's errors (2): their text too
        if _final_flush(stdout) == 2:
            raise SystemExit(2) from None
        raise done
    else:
        return _final_flush(stdout) or code
    finally:
        sys.stdout = stdout


def _open_closed_standard_streams() -> None:
    """Point a closed stdin, stdout or stderr (``2>&-``) at ``/dev/null``: with stderr closed
    Python's ``sys.stderr`` is ``None`` (a run died on it before its first frame, exit 1 and no
    word: QA), and the next file opened would take the free descriptor, so native libraries' log
    lines would be written into it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the process
    # a terminal or pipe that is not UTF-8 (PYTHONIOENCODING=latin-1, an old console) gets "?" for
    # what it cannot show: the help's arrows were a UnicodeEncodeError traceback, and --print text
    # an output failure naming no fix (QA); stderr has Python's backslashreplace already
    if getattr(sys.stdout, "errors", None) == "strict" and callable(getattr(sys.stdout, "reconfigure", None)):
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.reconfigure(errors="replace")


#: The exit status of a command whose reader closed its end (``posecast listen | head``): it has all
#: it wanted, as ``run --print | head`` and the Node client's ``posecast-listen | head`` end (it was
#: 141, SIGPIPE's, which fails a ``set -o pipefail`` script's ``listen --count 1 | head -1``)
READER_GONE_STATUS = 0


class StdoutReaderGoneError(BrokenPipeError):
    """Standard output's reader closed its end: only this ends a command with
    :data:`READER_GONE_STATUS` (another closed pipe, a child's or a FIFO's, is a failure: review)."""


def _final_flush(stdout) -> int | None:  # noqa: ANN001 - the real stdout
    """Flush what was printed, whatever the way out: a full disk is said here (exit status 2), not
    as Python's "Exception ignored" at exit with status 120; ``None`` when it went out."""
    try:
        sys.stdout.flush()
    except PosecastError as exc:
        print(f"posecast: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except StdoutReaderGoneError:
        point_at_devnull(stdout)
        return READER_GONE_STATUS
    return None


def _run(argv: Sequence[str] | None) -> int:
    args = None
    try:
        with stop_signals_deferred():
            parser = build_parser()
            args = parser.parse_args(argv)  # --help, --version print here, then SystemExit
            configure_logging(args.verbose)
            _load_native_modules(args)
        return int(args.func(args) or 0)
    except StdoutReaderGoneError:  # `posecast listen | head`: the reader has all it wanted
        point_at_devnull(sys.stdout)
        return READER_GONE_STATUS
    except BrokenPipeError as exc:  # another pipe than stdout's (a FIFO output): said, as SIGPIPE ends one
        named = f" {escaped(str(exc.filename))}" if exc.filename else ""
        print(f"posecast: error: the pipe{named} was closed by its reader: the output stopped there", file=sys.stderr)
        return 128 + getattr(signal, "SIGPIPE", 13)  # (Windows has no SIGPIPE: review)
    except PosecastError as exc:  # before OSError: OutputWriteError is both
        if args is not None and args.verbose:
            log.exception("posecast failed")
        print(f"posecast: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_status
    except (MemoryError, ImportError, RuntimeError) as exc:  # (constrained-machine QA: tracebacks under limits)
        if (text := limit_error_text(exc)) is None:
            raise
        if args is not None and args.verbose:
            log.exception("posecast failed")
        print(f"posecast: error: {text}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG:
            raise
        # the system's limit on a name, met wherever a path given is first used
        shown = abbreviated(escaped(str(exc.filename or "")), limit=60)
        # a take is written as NAME.part first: the name the user gave is 5 bytes short of the limit (QA)
        part = " (a recording is written as its name and .part first)" if str(exc.filename).endswith(".part") else ""
        print(f"posecast: error: a file name is too long for this system: {shown}{part}; pass a shorter one",
              file=sys.stderr)  # fmt: skip
        return 2


class _CheckedStdout:
    """``sys.stdout`` whose write and flush failures (a full disk, ``> /dev/full``, a failing
    device) are one :class:`PosecastError` naming stdout, wherever a command prints: a bare
    ``print`` raised an ``OSError`` naming no file, shown as a traceback. A closed pipe is
    :class:`StdoutReaderGoneError` (``posecast listen | head``)."""

    def __init__(self, stream) -> None:  # noqa: ANN001 - a text stream
        self._stream = stream

    def write(self, text: str) -> int:
        return self._checked(self._stream.write, text)

    def flush(self) -> None:
        self._checked(self._stream.flush)

    def _checked(self, call, *args):  # noqa: ANN001, ANN002, ANN202
        try:
            return call(*args)
        except BrokenPipeError as exc:
            raise StdoutReaderGoneError(*exc.args) from exc
        except OSError as exc:
            if sys.platform == "win32" and exc.errno == errno.EINVAL:  # Windows' word for a closed pipe
                raise StdoutReaderGoneError(*exc.args) from exc
            with contextlib.suppress(OSError, ValueError):
                self._stream.flush()  # what is left would fail again at exit; then it goes nowhere
            point_at_devnull(self._stream)
            fix = ("send it to a disk with space" if exc.errno in OUT_OF_ROOM
                   else "send it to a file or a program that reads it")  # fmt: skip
            raise PosecastError(f"cannot write to standard output ({exc.strerror or exc}): {fix}") from exc

    def __getattr__(self, name: str):  # noqa: ANN204 - fileno, isatty, encoding, buffer: the stream's
        return getattr(self._stream, name)


if __name__ == "__main__":
    try:
        status = main()
    finally:  # as the console script's entry (launch.py): the exit is not cut by a second Ctrl-C
        ignore_stop_signals_until_exit()
    sys.exit(status)
