"""``posecast lift``: lift a recorded 2D sequence (.npz) to metric 3D offline."""

from __future__ import annotations

import argparse
import logging

from ...engines.cli_args import given_path, output_file, output_file_or_folder
from ...engines.frames import ENGINE_FRAMES
from ..offline import lift_file
from .arguments import NO_LIVE_SUBJECT_HELP, add_model_arguments, lifter_options, warn_unused_options

log = logging.getLogger(__name__)


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
    parser.add_argument("--bvh", type=output_file, help="also write the motion as BVH here, standing on the floor "
                        "under the person's feet (as `posecast export --bvh` writes a take)")  # fmt: skip
    parser.add_argument("--frame", choices=tuple(ENGINE_FRAMES), default=None,
                        help="axes of the BVH (default world: y up, metres, as Blender's importer expects); BVH is "
                             "right-handed, so unity and unreal are refused")  # fmt: skip
    add_model_arguments(parser)
    parser.set_defaults(func=lift)


def lift(args: argparse.Namespace) -> int:
    warn_unused_options(args)
    if args.frame is not None and args.bvh is None:
        log.warning("--frame %s: it sets the BVH's axes, and no --bvh is written (the option does nothing)",
                    args.frame)  # fmt: skip
    bvh = None if args.bvh is None else (args.bvh, args.frame or "world")
    lift_file(args.input, args.output, args.height, lifter_options(args), live_subject=not args.no_live_subject,
              bvh=bvh)  # fmt: skip
    return 0
