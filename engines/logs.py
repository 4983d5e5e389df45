"""Logging helpers shared by the packages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quieter(level: int, *logger_names: str) -> Iterator[None]:
    """While inside, the named loggers (``""``: the root) log ``level`` and up only: for steps whose
    lines would name files the user never sees (a staging folder, a temporary recording) or give
    advice that does not apply (ONNX Runtime's quantiser)."""
    loggers = [logging.getLogger(name or None) for name in logger_names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), level))
    try:
        yield
    finally:
        for logger, previous in zip(loggers, levels, strict=True):
            logger.setLevel(previous)


def counted(number: int, noun: str) -> str:
    """``"1 frame"``, ``"3 frames"``: a count and its noun (regular plurals only) for log lines."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
