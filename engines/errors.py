"""posecast's error hierarchy: every user-facing failure is a :class:`PosecastError` whose
message is one line saying what was expected, what was found, and how to fix it. The CLI
prints it without a traceback (``--verbose`` shows one)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable


class PosecastError(Exception):
    """Base of every error posecast reports to a user."""

    #: The CLI's exit status for it: 2, a failure that runs the same way again until the user
    #: changes something (an option, a file, a device), unless a subclass says otherwise.
    exit_status = 2


class ModelError(PosecastError):
    """A model file that is missing, corrupt or from an incompatible version."""


class AssetError(PosecastError):
    """A downloadable asset that is missing, unreachable or fails its checksum."""


class BackendError(PosecastError):
    """A runtime backend that cannot be used here (missing package, no GPU, ...)."""


class LiftInputError(PosecastError, ValueError):
    """A 2D input file in the ``posecast lift`` format that cannot be used (one line: what and how to fix)."""


#: Characters of one name (a path, an address) an error shows whole.
LONGEST_SHOWN_NAME = 200


def one_line(exc: BaseException) -> str:
    """An error's message on one line: a file name with a line break in it split the error (QA),
    and a name of thousands of characters printed whole (QA: 5,000 of them) is abbreviated. A
    name that is not UTF-8 is written as :func:`storable` writes it (``\\xe9``, as log lines are)."""
    text = escaped(storable(str(exc)))
    # a long name and the punctuation after it ("NAME: fix"): the count goes after the name
    return re.sub(rf"(\S{{{LONGEST_SHOWN_NAME + 1},}}?)([:;,.]*)(?=\s|$)",
                  lambda match: abbreviated(match.group(1)) + match.group(2), text)  # fmt: skip


def escaped(text: str) -> str:
    """``text`` with its line breaks written as ``\\r`` and ``\\n``, and every other control
    character as ``\\xNN`` (``\\uNNNN``: Unicode's line and paragraph separators and the marks
    that turn text right to left): one line whatever a name holds, and nothing a terminal would
    obey (security QA: a file name or a stream's text with ESC sequences set the window's title and
    cleared the screen; environment QA: U+2028 split a line, U+202E showed a name backwards)."""
    return _CONTROL.sub(lambda found: _SHOWN.get(found.group(), _code(found.group())), text)


def _code(character: str) -> str:
    return f"\\x{ord(character):02x}" if ord(character) <= 0xFF else f"\\u{ord(character):04x}"


def storable(text: str) -> str:
    """``text`` as valid UTF-8 can hold it: each byte of a file name that is not UTF-8 (Python
    holds them as lone surrogates) written as ``\\xNN``, any other lone surrogate as ``\\udNNN``,
    for a file's text fields (environment QA: such a source name refused a recording's header,
    and an adapted model's metadata after the whole training)."""
    return _SURROGATE.sub(lambda found: _byte_or_code(ord(found.group())), text)


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: no byte of a name that is not UTF-8 (a lone
    surrogate) in it, which native libraries refuse or crash on (OpenCV: SIGSEGV)."""
    return _SURROGATE.search(text) is None


def _byte_or_code(code: int) -> str:
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHOWN = {"\r": "\\r", "\n": "\\n"}


def abbreviated(name: str, limit: int = LONGEST_SHOWN_NAME) -> str:
    """``name`` whole when it is at most ``limit`` characters, else its start and end."""
    if len(name) <= limit:
        return name
    return f"{name[: limit // 2]}...{name[-(limit // 3) :]} ({len(name)} characters)"


def run_reporting(work: Callable[[], int | None], tool: str, interrupted: str | Callable[[], str] = "") -> int:
    """Run a command-line tool's ``work`` as the ``posecast`` CLI runs a command: a
    :class:`PosecastError` is one line on stderr and exit code 2, Ctrl-C one line (``tool:
    interrupted``, then ``interrupted``, or what it returns when it is a function, asked then:
    e.g. how to continue) and exit code 130 (128 + the signal's number for another stop signal
    raised as one, as the shell reports it), never a traceback."""
    try:
        return int(work() or 0)
    except PosecastError as exc:
        print(f"{tool}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        said = interrupted() if callable(interrupted) else interrupted
        print(f"{tool}: interrupted{'; ' + said if said else ''}", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", 2))
