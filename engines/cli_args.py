"""Argument types for the command line: numbers checked while the arguments are parsed.

``type=positive_float("metres", "0.025")`` makes argparse refuse ``inf``, ``nan``, ``0`` and
negative values with one line naming the option, the value and an example (exit code 2, as
every bad input), before any work starts or any file is opened. ``type=output_file`` does the
same for a file to write given as a folder (``out/``), which ``Path`` would silently turn into
a file named after the folder.
"""

from __future__ import annotations

import argparse
import math
import os
import re
from collections.abc import Callable
from pathlib import Path

from .fileio import home_expanded

#: Endings of the files posecast reads or writes: a word ending so names a file, not a host
_FILE_SUFFIXES = frozenset({".posecast", ".mp4", ".mov", ".avi", ".mkv", ".webm", ".npz", ".json", ".yaml", ".yml",
                            ".onnx", ".bvh", ".png", ".jpg", ".jpeg"})  # fmt: skip


def names_a_file(word: str) -> bool:
    """Whether a command-line word names a file rather than a host: a file here, a path with a
    separator or a name ending as posecast's files do (a host name is none of these; a folder of
    the host's name may well be here: review)."""
    return os.sep in word or "/" in word or Path(word).suffix.lower() in _FILE_SUFFIXES or os.path.isfile(word)


def _number(text: str, what: str, example: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of {what}, got {text!r} (e.g. {example})") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of {what}, got {text!r} (e.g. {example})")
    return value


def positive_float(unit: str, example: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite number above 0 in ``unit`` (``"metres"``), ``example`` in the error."""

    def parse(text: str) -> float:
        value = _number(text, unit, example)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number of {unit} above 0, got {text!r} (e.g. {example})")
        return value

    parse.__name__ = f"positive number of {unit}"
    return parse


def finite_float(unit: str, example: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite number (of either sign) in ``unit``."""

    def parse(text: str) -> float:
        return _number(text, unit, example)

    parse.__name__ = f"number of {unit}"
    return parse


def whole_number(least: int, what: str) -> Callable[[str], int]:
    """An argparse ``type``: ``what`` (``"a count of clips"``, ``"a seed"``), a whole number
    ``least`` or more (tools QA: ``--clips 0`` and ``--iters -1`` ended in tracebacks)."""

    def parse(text: str) -> int:
        if not text.strip().lstrip("-").isdigit() or int(text) < least:
            raise argparse.ArgumentTypeError(f"expected {what}, a whole number {least} or more, got {text!r}")
        return int(text)

    parse.__name__ = what
    return parse


#: Each side of a frame size given as WxH, in pixels (a 1x1 camera file was written, then rescaled unsaid: QA).
FRAME_SIDE_PX = (16, 32768)
#: What :func:`frame_size` takes, for the error that names the option.
FRAME_SIZE_RULE = f"must look like WxH in pixels, each from {FRAME_SIDE_PX[0]} to {FRAME_SIDE_PX[1]} (e.g. 1280x720)"


def frame_size(text: str) -> tuple[int, int] | None:
    """``"1280x720"`` → ``(1280, 720)``: ASCII digits, each side within :data:`FRAME_SIDE_PX`;
    ``None`` for anything else (each command says it in its own words)."""
    match = re.fullmatch(r"\s*([0-9]{1,5})\s*[xX]\s*([0-9]{1,5})\s*", text)
    if not match or not all(FRAME_SIDE_PX[0] <= int(side) <= FRAME_SIDE_PX[1] for side in match.groups()):
        return None
    return int(match.group(1)), int(match.group(2))


#: The highest camera index taken: OpenCV's backends number devices far below it (V4L2 has 0..63
#: by default), its own limit is a C int, and a negative index crashed it.
MAX_CAMERA_INDEX = 9999


def camera_index(text: str) -> int:
    """An argparse ``type``: a camera's index, 0..:data:`MAX_CAMERA_INDEX` (``-1`` made OpenCV
    crash: SIGSEGV)."""
    if not text.strip().isdigit() or int(text) > MAX_CAMERA_INDEX:
        raise argparse.ArgumentTypeError(f"expected a camera index from 0 to {MAX_CAMERA_INDEX} (0 is the first; "
                                         f"on Linux see ls /dev/video*), got {text!r}")  # fmt: skip
    return int(text)


camera_index.__name__ = "camera index"


def listed_options(options: list[str]) -> str:
    """``--a``, ``--a and --b``, ``--a, --b and --c``: options named in a message."""
    return options[0] if len(options) == 1 else f"{', '.join(options[:-1])} and {options[-1]}"


def _names_folder(text: str) -> bool:
    return text.endswith(("/", os.sep)) or os.path.basename(text) in ("", ".", "..")


def nonempty_text(text: str) -> str:
    """An argparse ``type``: any text but an empty one (an unset shell variable: ``--source "$IN"``),
    which a default or ``Path("")``, the current folder, would silently stand in for."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a value, got {text!r} (an empty argument: an unset shell "
                                         "variable?)")  # fmt: skip
    return text


nonempty_text.__name__ = "value"


def given_path(text: str) -> Path:
    """An argparse ``type``: a path to read, not an empty one (:func:`nonempty_text`); ``~`` is
    the home folder, as ``--source`` takes it (QA: ``--model=~/a.onnx``, which no shell expands,
    was not found)."""
    return home_expanded(nonempty_text(text))


given_path.__name__ = "path"


def output_file(text: str) -> Path:
    """An argparse ``type``: a file to write; a path that names a folder (``out/``, ``.``) is refused,
    and so is ``-`` (tools read it as standard output; it wrote a file named ``-``, QA)."""
    given_path(text)
    _refuse_dash(text, "file")
    if _names_folder(text):
        raise argparse.ArgumentTypeError(f"expected a file name, got {text!r}, a folder: add a file name "
                                         f"(e.g. {os.path.join(text, 'out')}...)")  # fmt: skip
    return home_expanded(text)


output_file.__name__ = "file name"


def output_file_ending(*suffixes: str) -> Callable[[str], Path]:
    """An argparse ``type``: :func:`output_file` whose name ends in one of ``suffixes`` (``".json"``):
    an output written whatever it is named replaced a recording or a video named by mistake (QA:
    ``--stats-json take.posecast`` overwrote the take with 1 KB of JSON)."""

    def parse(text: str) -> Path:
        path = output_file(text)
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{text!r} is a folder: add a file name (e.g. "
                                             f"{path / ('out' + suffixes[0])})")  # fmt: skip
        if path.suffix.lower() not in suffixes:
            example = f"{path.stem if path.suffix else 'out'}{suffixes[0]}"  # ('.json' alone: a hidden file)
            raise argparse.ArgumentTypeError(f"expected a {' or '.join(suffixes)} file, got {text!r}: name it "
                                             f"{example} (it cannot then replace a file of another kind)")
        return path

    parse.__name__ = f"{suffixes[0][1:]} file name"
    return parse


def output_folder(text: str) -> Path:
    """An argparse ``type``: a folder to write into (made if missing); ``-`` is refused."""
    given_path(text)
    _refuse_dash(text, "folder")
    return Path(text)


output_folder.__name__ = "folder"


def _refuse_dash(text: str, what: str) -> None:
    if text == "-":
        raise argparse.ArgumentTypeError(f"'-' (standard output) is not written to here: pass a {what} name (./- "
                                         "for one of that name)")  # fmt: skip


def output_file_or_folder(text: str) -> Path:
    """An argparse ``type``: a file to write, or an existing folder to write into; a path that
    names a folder (``out/``) must exist (a missing one would become a file of that name)."""
    given_path(text)
    _refuse_dash(text, "file or folder")
    path = home_expanded(text)
    if _names_folder(text) and not path.is_dir():
        raise argparse.ArgumentTypeError(f"folder {text!r} does not exist: create it first, or give a file name")
    return path


output_file_or_folder.__name__ = "file or folder"
