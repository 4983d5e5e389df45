"""Logging helpers (engines/logs.py)."""

from __future__ import annotations

import logging

from posecast.engines.logs import counted, quieter


def test_counted_says_one_thing_and_many_things() -> None:
    assert [counted(n, "frame") for n in (0, 1, 2)] == ["0 frames", "1 frame", "2 frames"]


def test_quieter_restores_the_level() -> None:
    logger = logging.getLogger("posecast.test_logs")
    logger.setLevel(logging.INFO)
    with quieter(logging.WARNING, "posecast.test_logs"):
        assert not logger.isEnabledFor(logging.INFO)
    assert logger.level == logging.INFO
