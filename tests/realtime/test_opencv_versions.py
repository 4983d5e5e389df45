"""The command line on OpenCV 4 as well as 5: pip installs opencv-contrib-python 4.x where numpy
is below 2 (and keeps a 4.x already installed); every command but ``--help`` then failed with
``AttributeError: module 'cv2.utils' has no attribute 'logging'`` (QA, a non-editable install)."""

from __future__ import annotations

import logging

import cv2
import pytest
from posecast.realtime import cli


@pytest.fixture(autouse=True)
def _keep_logging():  # noqa: ANN202 - restore what configure_logging changes
    root, ours = logging.getLogger(), logging.getLogger("posecast")
    handlers, levels = list(root.handlers), (root.level, ours.level)
    yield
    root.handlers[:] = handlers
    root.setLevel(levels[0])
    ours.setLevel(levels[1])


@pytest.mark.parametrize(("verbose", "level"), [(False, 0), (True, 3)])
def test_opencv_4_log_level_is_set_without_cv2_utils_logging(monkeypatch, verbose: bool, level: int) -> None:  # noqa: ANN001
    set_levels: list[int] = []
    monkeypatch.setattr(cli, "_USER_SET_OPENCV_LOG", False)
    monkeypatch.delattr(cv2.utils, "logging", raising=False)  # as OpenCV 4's cv2.utils is
    monkeypatch.setattr(cv2, "setLogLevel", set_levels.append, raising=False)
    cli.configure_logging(verbose)
    assert set_levels == [level]  # silent, or warnings with --verbose


def test_opencv_5_log_level_goes_through_cv2_utils_logging(monkeypatch) -> None:  # noqa: ANN001
    if getattr(cv2.utils, "logging", None) is None:
        pytest.skip("this OpenCV has no cv2.utils.logging")
    monkeypatch.setattr(cli, "_USER_SET_OPENCV_LOG", False)
    levels = cv2.utils.logging
    before = levels.getLogLevel()
    try:
        cli.configure_logging(False)
        assert levels.getLogLevel() == levels.LOG_LEVEL_SILENT
    finally:
        levels.setLogLevel(before)
