"""The live view as a sink: a window (``q`` or Esc ends the run). The same view as a video file is
:mod:`posecast.realtime.sinks.video` (``--output-video``)."""

from __future__ import annotations

import argparse
import logging
import os
import time
import urllib.parse
from pathlib import Path

from ...engines.media import display_available, no_display_words
from ..sources.stream import without_password
from ..stages import Sink
from ..types import PoseFrame
from .hud import RateMeter, view_stats
from .live_view import LiveView, LiveViewOptions

log = logging.getLogger(__name__)


def window_title(source: str | None) -> str:
    """``posecast: WHAT`` (a file's name, ``camera N``, a stream's scheme, host and path), so that
    two runs' windows can be told apart (display QA: both were called "posecast"). A stream's user,
    password and query are left out, a password in its path starred (review: a token in the query
    was on the screen, the taskbar and every screen share), and what no title can show is replaced
    (review: a name that is not UTF-8 crashed OpenCV's Qt window, a segmentation fault)."""
    if not source or not source.strip():
        return "posecast"
    text = source.strip()
    if text.isdigit():
        return f"posecast: camera {text}"
    if "://" in text:
        try:
            parts = urllib.parse.urlsplit(text)
            shown = without_password(f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}")
        except ValueError:  # (rtsp://[::1/x: the sinks are made before the source says so, in one line)
            shown = text.split("://", 1)[0] + "://"
    else:
        shown = Path(text).name or text
    shown = os.fsencode(shown).decode("utf-8", "replace")  # (a name's undecodable bytes: U+FFFD)
    return "posecast: " + "".join(c if c.isprintable() else "\ufffd" for c in shown)


class ViewSink(Sink):
    """Draws every frame with :class:`LiveView` in a window. Inline: OpenCV's GUI belongs to the
    main thread (drawing takes a few ms)."""

    name = "view"
    inline = True

    def __init__(self, options: LiveViewOptions) -> None:
        self.view = LiveView(options)  # checks the display now
        self._meter = RateMeter()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--headless", action="store_true", help="no live view window")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ViewSink | None:
        """A window unless ``--headless`` or there is no display (checked here, once; ``posecast
        run`` says so once the arguments hold: :func:`say_no_display`)."""
        show = not args.headless and display_available()
        if not show:
            return None
        return cls(LiveViewOptions(show=True, window_title=window_title(getattr(args, "source", None))))

    def write(self, frame: PoseFrame) -> None:
        if frame.image_bgr is None:
            return
        stats = view_stats(frame, self._meter, time.monotonic_ns())
        first = frame.tracked[0] if frame.tracked else None
        others = [(p.keypoints_px, p.confidence, p.joints_m) for p in frame.tracked[1:]]
        self.view.process(
            frame.image_bgr,
            None if first is None else first.keypoints_px,
            None if first is None else first.confidence,
            None if first is None else first.joints_m,
            stats,
            state=first.tracking if first is not None else "lost",
            others=others,
        )

    @property
    def stop_requested(self) -> bool:
        return self.view.stop_requested

    def close(self) -> None:
        self.view.close()


def say_no_display(args: argparse.Namespace, sinks: list[Sink]) -> None:
    """Log that no window shows the run when one was asked for (not ``--headless``) and
    :meth:`ViewSink.from_args` found no display; said after every check of the arguments (review:
    it came before the one line of a mistyped file)."""
    if not args.headless and not any(isinstance(sink, ViewSink) for sink in sinks):
        recording = getattr(args, "output_video", None) is not None
        log.info("%s: running without the live view%s", no_display_words(),
                 "" if recording else " (use --output-video to record it)")  # fmt: skip
