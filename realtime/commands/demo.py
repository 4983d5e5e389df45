"""``posecast demo``: the whole pipeline on a sample clip (downloaded once, cached)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ...engines.assets import ensure_asset
from ...engines.media import display_available
from .arguments import add_pipeline_arguments, build_sinks
from .run import run_and_report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("demo", help="the whole pipeline on a sample clip (downloaded once, cached)")
    parser.add_argument("--source", help="a clip to use instead of the sample")
    parser.add_argument("--output-video", type=Path, default=Path("posecast_demo.mp4"),
                        help="annotated video when there is no display (default: posecast_demo.mp4)")  # fmt: skip
    add_pipeline_arguments(parser)
    parser.set_defaults(func=demo)


def demo(args: argparse.Namespace) -> int:
    """With a display: the live view. Without: the annotated video and one line per frame."""
    source = args.source or str(ensure_asset("demo_clip"))
    if not args.headless and display_available():
        args.output_video = None
    elif getattr(args, "print_mode", None) == "none":
        args.print_mode = "text"
    return run_and_report(args, source, build_sinks(args))
