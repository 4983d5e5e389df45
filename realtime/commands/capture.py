"""Capture options of the commands that read a source: ``--camera-size WxH``, ``--camera-fps FPS``.

They are requests to a live source (a camera, ``/dev/videoN`` or a stream); the device may pick
the nearest mode it has (the log says what it delivers). Given for a file, they are an error.
"""

from __future__ import annotations

import argparse
import logging

from ...calibration.io import load_intrinsics
from ...engines.cli_args import FRAME_SIZE_RULE, frame_size
from ...engines.logs import quieter
from ..errors import OptionsError
from ..sources import CameraSource, ImageFolderSource
from ..stages import FrameSource


def add_capture_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--camera-size",
        metavar="WxH",
        help="cameras and streams: ask for this resolution, e.g. 1280x720 (default: the device's)",
    )
    parser.add_argument(
        "--camera-fps",
        type=float,
        metavar="FPS",
        help="cameras and streams: ask for this frame rate, e.g. 30 (default: the device's)",
    )


def parse_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` → ``(1280, 720)``; raises :class:`OptionsError` otherwise."""
    if (size := frame_size(text)) is None:
        raise OptionsError(f"--camera-size {FRAME_SIZE_RULE}, got {text!r}")
    return size


def configure_capture(source: FrameSource, args: argparse.Namespace) -> FrameSource:
    """Hand ``--camera-size``/``--camera-fps`` to an unopened live ``source`` (checked here), and
    ``--intrinsics`` to an image folder (its images of a size the file does not fit are skipped)."""
    if isinstance(source, ImageFolderSource) and getattr(args, "intrinsics", None) is not None:
        with quieter(logging.ERROR, "posecast.calibration"):  # its notices are the lifting stage's to say
            source.intrinsics = load_intrinsics(args.intrinsics)
    size_text, fps = getattr(args, "camera_size", None), getattr(args, "camera_fps", None)
    if size_text is None and fps is None:
        return source
    if not isinstance(source, CameraSource):
        raise OptionsError(f"--camera-size and --camera-fps apply to cameras and streams, not to the {source.name} "
                           "source; drop them (a file plays at its own size and rate)")  # fmt: skip
    if fps is not None and not 0 < fps <= 1000:
        raise OptionsError(f"--camera-fps must be in (0, 1000] frames per second, got {fps:g}")
    if size_text is not None:
        source.width, source.height = parse_size(size_text)
    if fps is not None:
        source.fps = fps
    return source
