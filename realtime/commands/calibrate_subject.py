"""``posecast calibrate subject``: the subject's bone lengths from a few seconds of video.

The pipeline runs with one sink, :class:`~posecast.realtime.sinks.subject.SubjectCollector`;
the maths is :func:`posecast.calibration.subject_from_lifted`.
"""

from __future__ import annotations

import argparse
import logging

from ...calibration import save_subject, subject_from_lifted
from ...calibration.io import SUBJECT_FORMAT, check_writable
from ...engines.cli_args import given_path, output_file
from ..sinks.subject import SubjectCollector
from ..sources.stream import without_password
from . import subcommands
from .arguments import add_camera_arguments, add_model_arguments, check_observe_seconds, input_files, observe
from .capture import add_capture_arguments

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subcommands(subparsers, "calibrate").add_parser(
        "subject", help="measure the subject's bone lengths from a few seconds of video"
    )
    parser.add_argument("--source", default="0", help="camera index, stream URL, video file or image folder")
    parser.add_argument("--subject-height", "--height", dest="height", type=float, required=True, metavar="M",
                        help="the subject's height in metres (alias --height)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to observe (default 5 s)")
    parser.add_argument("-o", "--output", type=output_file, required=True, metavar="FILE",
                        help="subject file to write, .yaml or .json (for run --subject)")  # fmt: skip
    add_camera_arguments(parser)
    add_capture_arguments(parser)
    parser.add_argument("--model-asset", type=given_path, help="MediaPipe pose_landmarker .task file")
    add_model_arguments(parser)
    parser.set_defaults(func=calibrate_subject)


def calibrate_subject(args: argparse.Namespace) -> int:
    check_writable(args.output, input_files(args, args.source), kind=SUBJECT_FORMAT)
    check_observe_seconds(args.seconds)
    collector = SubjectCollector()
    args.no_live_subject = True  # the command measures the whole take itself
    observe(args, [collector])
    poses, confidences, keypoints_norm = collector.arrays()
    profile = subject_from_lifted(poses, confidences, args.height, source=without_password(str(args.source)),
                                  keypoints_norm=keypoints_norm)  # fmt: skip
    save_subject(profile, args.output)
    clipped, typical = len(profile.clipped_bones), len(profile.typical_bones)
    at_bound = f"; {clipped} of 16 bones not measured, limited to the bound (clipped_bones)" if clipped else ""
    unseen = f"; {typical} of 16 bones not measured, typical for the height (typical_bones)" if typical else ""
    log.info("subject: %d frames used → %s%s%s", profile.frames_used, args.output, at_bound, unseen)
    return 0
