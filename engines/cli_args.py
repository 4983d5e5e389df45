"""Argument types for the command line: numbers checked while the arguments are parsed.

``type=positive_float("metres", "0.025")`` makes argparse refuse ``inf``, ``nan``, ``0`` and
negative values with one line naming the option, the value and an example (exit code 2, as
every bad input), before any work starts or any file is opened.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


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
