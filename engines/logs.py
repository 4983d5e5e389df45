"""Logging helpers shared by the packages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def info_muted(*logger_names: str) -> Iterator[None]:
    """While inside, the named loggers log warnings and up only: for steps whose INFO lines would
    name files the user never sees (a staging folder, a temporary recording)."""
    loggers = [logging.getLogger(name) for name in logger_names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
