"""The live view as a sink: a window (``q`` or Esc ends the run) and/or an annotated video file."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from ...engines.media import display_available
from ..stages import Sink
from ..types import PoseFrame
from .live_view import LiveView, LiveViewOptions

log = logging.getLogger(__name__)


class ViewSink(Sink):
    """Draws every frame with :class:`LiveView`. With a window it runs inline (OpenCV's GUI
    belongs to the main thread; drawing takes a few ms); recording only, on its own thread."""

    name = "view"

    def __init__(self, options: LiveViewOptions) -> None:
        self.view = LiveView(options)  # checks the display and the output folder now
        self.inline = options.show
        self._first_ns: int | None = None
        self._count = 0

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--headless", action="store_true", help="no live view window")
        if not any("--output-video" in action.option_strings for action in parser._actions):
            parser.add_argument("--output-video", type=Path, help="also write the annotated view to this video")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ViewSink | None:
        """A window unless ``--headless`` or there is no display (checked here, once); a video
        with ``--output-video``."""
        show = not args.headless and display_available()
        if not args.headless and not show:
            log.info("no display found: running without the live view (use --output-video to record it)")
        output = getattr(args, "output_video", None)
        if not show and output is None:
            return None
        return cls(LiveViewOptions(show=show, output_path=output))

    def write(self, frame: PoseFrame) -> None:
        if frame.image_bgr is None:
            return
        now = time.monotonic_ns()
        if self._first_ns is None:
            self._first_ns = now
        self._count += 1
        elapsed_s = (now - self._first_ns) / 1e9
        stats = {"fps": (self._count - 1) / elapsed_s if elapsed_s > 0 else 0.0,  # frames over wall time
                 "capture_to_view_ms": (now - frame.capture_ns) / 1e6,
                 "lift_ms": frame.stage_ns.get("lift", 0) / 1e6}  # fmt: skip
        first = frame.tracked[0] if frame.tracked else None
        others = [(p.keypoints_px, p.confidence) for p in frame.tracked[1:]]
        self.view.process(
            frame.image_bgr,
            None if first is None else first.keypoints_px,
            None if first is None else first.confidence,
            None if first is None else first.joints_m,
            stats,
            state=first.tracking if first is not None else "lost",
            others_2d=others,
        )

    @property
    def stop_requested(self) -> bool:
        return self.view.stop_requested

    def close(self) -> None:
        self.view.close()
