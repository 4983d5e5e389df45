"""``posecast demo``: the whole pipeline on the clip shipped with posecast (no download but the
MediaPipe model)."""

from __future__ import annotations

import argparse
import logging
from importlib import resources
from pathlib import Path

from ...engines.cli_args import output_file
from ...engines.media import display_available, no_display_words
from ..errors import OptionsError
from ..sinks.video_file import default_video_path
from .arguments import add_pipeline_arguments, build_sinks
from .run import replaced_outputs, run_and_report

log = logging.getLogger(__name__)

#: The demo clip inside the package (``realtime/data/README.md``: source and licence).
DEMO_CLIP = "data/demo_dance.mp4"


def demo_clip() -> Path:
    """The shipped demo clip: a person dancing, whole body, facing the camera (4 s, 576×576)."""
    return Path(str(resources.files("posecast.realtime").joinpath(DEMO_CLIP)))


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="the whole pipeline on a sample clip shipped with posecast")
    parser.add_argument("--source", help="a clip to use instead of the sample (default: a 4 s dance, shipped)")
    parser.add_argument("--output-video", type=output_file, metavar="FILE",
                        help="annotated video, beside the window where there is one (with --headless or without a "
                             "display, by default posecast_demo.mp4 when PyAV is installed, H.264; else "
                             "posecast_demo.webm, VP8; both play in browsers)")  # fmt: skip
    add_pipeline_arguments(parser)
    for action in parser._actions:  # demo's own default: text lines where it records a video
        if action.dest == "print_mode":
            action.help = "per-frame results on stdout (default: text without a display, else none)"
    parser.set_defaults(func=demo, print_mode=None)


def demo(args: argparse.Namespace) -> int:
    """With a display: the live view. Without (or ``--headless``): the annotated video and one
    line per frame."""
    if args.source is not None and not args.source.strip():
        raise OptionsError("--source is empty: pass a video file, an image folder or a camera index, or leave it "
                           "out for the sample clip")  # fmt: skip
    source = args.source or str(demo_clip())
    # said once the source opened and the stages loaded: a refused source or model is the only line
    notices: list[tuple[int, str]] = []
    said: list[Path] = []  # the files those notices name
    if args.headless or not display_available():  # (with a window, a video only where --output-video asks for
        if args.output_video is None:  # one, as under run: display QA, it was dropped without a word)
            args.output_video = default_video_path("posecast_demo")
            if args.output_video.exists():  # a name the user did not give: say so before replacing it
                # (the video is renamed into place at the end: a run that fails keeps the earlier one)
                notices.append((logging.WARNING, f"{args.output_video} (an earlier demo's video?) is replaced when "
                                                 "this run ends; pass --output-video FILE to keep it"))  # fmt: skip
                said.append(args.output_video)
        if not args.headless:  # the view's own notice would say to pass --output-video: this records one
            notices.append((logging.INFO, f"{no_display_words()}: recording the annotated view to {args.output_video} "
                                          "instead of a window"))  # fmt: skip
            args.headless = True
        if args.print_mode is None:
            args.print_mode = "text"
    if args.print_mode is None:
        args.print_mode = "none"
    sinks = build_sinks(args, source)
    return run_and_report(args, source, sinks, notices + replaced_outputs(sinks, said))
