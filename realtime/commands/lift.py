"""``posecast lift``: lift a recorded 2D sequence (.npz) to metric 3D offline."""

from __future__ import annotations

import argparse

from ...engines.cli_args import given_path, output_file_or_folder
from ..offline import lift_file
from .arguments import NO_LIVE_SUBJECT_HELP, add_model_arguments, lifter_options


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("lift", help="lift a recorded 2D sequence (.npz) to metric 3D offline")
    parser.add_argument("--input", type=given_path, required=True,
                        help="npz: keypoints_2d (F,17,2) px (or another layout: layout='coco-17'), "
                             "intrinsics (4,), ...")  # fmt: skip
    parser.add_argument("--output", type=output_file_or_folder, required=True,
                        help="npz: joints_3d (F,17,3) m, joints_3d_rel (F,17,3) m; a folder: "
                             "FOLDER/<input name>_3d.npz")  # fmt: skip
    parser.add_argument("--subject-height", "--height", dest="height", type=float, default=None, metavar="M",
                        help="subject height in metres (default: the input's height_m, else 1.70, assumed); alias "
                             "--height")  # fmt: skip
    parser.add_argument("--no-live-subject", action="store_true",
                        help=NO_LIVE_SUBJECT_HELP.removeprefix("without --subject, "))  # lift has no --subject
    add_model_arguments(parser)
    parser.set_defaults(func=lift)


def lift(args: argparse.Namespace) -> int:
    lift_file(args.input, args.output, args.height, lifter_options(args), live_subject=not args.no_live_subject)
    return 0
