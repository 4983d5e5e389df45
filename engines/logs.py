"""Logging helpers shared by the packages."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path


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


@contextlib.contextmanager
def quieter_code(level: int, folder: str | Path) -> Iterator[None]:
    """While inside, the records below ``level`` logged by the code in ``folder`` are dropped by
    the root logger's handlers, and no other record: for a library that logs on the root logger
    (ONNX Runtime's quantiser), whose level is the host program's (API QA: set to ERROR, it
    dropped a third of the warnings another thread of the program logged meanwhile)."""
    prefix = os.path.join(str(Path(folder).resolve()), "")  # (with its separator: not a sibling's name)

    def keep(record: logging.LogRecord) -> bool:
        return record.levelno >= level or not os.path.realpath(record.pathname).startswith(prefix)

    handlers = list(logging.getLogger().handlers)  # (they see every logger's records; a logger's filter its own)
    for handler in handlers:
        handler.addFilter(keep)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(keep)


class HeldBack(logging.Filter):
    """The records :func:`held_back` keeps; :meth:`release` logs them after all."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False

    def release(self) -> None:
        for record in self.records:
            logging.getLogger(record.name).handle(record)
        self.records.clear()


@contextlib.contextmanager
def held_back(*logger_names: str) -> Iterator[HeldBack]:
    """While inside, what the named loggers log (their own records: a logger's filter does not see
    its children's) is kept, not shown; the caller releases it (:meth:`~HeldBack.release`) once it
    knows the lines are news, or drops it (a command that ends in one error line: QA, the warnings about
    frames of an input then refused whole came before its error)."""
    held = HeldBack()
    loggers = [logging.getLogger(name) for name in logger_names]
    for logger in loggers:
        logger.addFilter(held)
    try:
        yield held
    finally:
        for logger in loggers:
            logger.removeFilter(held)


def counted(number: int, noun: str) -> str:
    """``"1 frame"``, ``"3 frames"``: a count and its noun (regular plurals only) for log lines."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
