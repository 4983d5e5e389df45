"""``posecast calibrate floor`` (the options of ``posecast run`` that use its file are in
:mod:`posecast.realtime.avatar_arguments`).

``posecast calibrate floor`` writes a floor file from those numbers (``--camera-height``,
``--tilt``, ``--roll``) or measures it: someone stands and steps around, feet in view, for
``--seconds`` while the pipeline runs; the floor comes from their feet
(:mod:`posecast.calibration.floor`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ...calibration import DEFAULT_HFOV_DEG
from ...calibration import floor as fl
from ...calibration.errors import CalibrationError
from ...calibration.floor_file import FLOOR_FORMAT, save_floor
from ...calibration.io import check_writable
from ...engines.cli_args import finite_float, given_path, listed_options, nonempty_text, output_file, positive_float
from ...engines.fileio import OutputPathError
from ..sinks.feet import FeetCollector
from ..sources.stream import without_password
from . import subcommands
from .arguments import add_camera_arguments, add_model_arguments, check_observe_seconds, input_files, observe

log = logging.getLogger(__name__)

#: Where the floor file goes without -o (never over an existing one)
DEFAULT_OUTPUT = Path("floor.yaml")
#: How long the floor is measured without --seconds
DEFAULT_SECONDS = 3.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subcommands(subparsers, "calibrate").add_parser(
        "floor", help="the floor under the subject: from the camera's height and tilt, or measured from the feet"
    )
    given = parser.add_argument_group("from numbers (no video)")
    given.add_argument("--camera-height", type=positive_float("metres", "1.2"), metavar="M",
                       help="the camera's height above the floor, metres")  # fmt: skip
    given.add_argument("--tilt", type=finite_float("degrees", "10"), metavar="DEG",
                       help="how far the camera looks down, degrees (default 0)")  # fmt: skip
    given.add_argument("--roll", type=finite_float("degrees", "0"), metavar="DEG",
                       help="the camera's roll, degrees (default 0)")  # fmt: skip
    measured = parser.add_argument_group("measured from the feet (someone stands and steps around, feet in view)")
    measured.add_argument("--source", type=nonempty_text, help="camera index, video file or image folder (default 0)")
    # default None (DEFAULT_SECONDS): --camera-height refuses it only when given
    measured.add_argument("--seconds", type=float,  # check_observe_seconds: its range, NaN, inf
                          help=f"how long to observe (default {DEFAULT_SECONDS:g} s)")  # fmt: skip
    size = measured.add_mutually_exclusive_group()
    size.add_argument("--subject-height", "--height", dest="height", type=positive_float("metres", "1.70"),
                      metavar="M", help="the subject's height in metres (default 1.70, assumed); alias --height")
    # the bones `run --subject` will use: measured with other bones, the floor sat where other ankles
    # reach (QA: the dancer's ankles 17.4 cm above it in `run --subject ... --floor ...`, 15.4 measured so)
    size.add_argument("--subject", type=given_path,
                      help="subject file from `posecast calibrate subject`: measure the floor with the bones `run "
                           "--subject` will use")  # fmt: skip
    add_camera_arguments(parser)
    parser.add_argument("--model-asset", type=given_path, help="MediaPipe pose_landmarker .task file")
    add_model_arguments(parser)
    parser.add_argument("-o", "--output", type=output_file, default=None, metavar="FILE",
                        help=f"floor file to write (default: {DEFAULT_OUTPUT} in the current folder, which is never "
                             "replaced: to replace it, name it with -o)")  # fmt: skip
    parser.set_defaults(func=calibrate_floor)


def calibrate_floor(args: argparse.Namespace) -> int:
    named = args.output is not None  # -o replaces; the default file never (also one written meanwhile: QA)
    args.output = default_output(args.output)
    check_writable(args.output, input_files(args, args.source), kind=FLOOR_FORMAT)
    if args.camera_height is None and (args.tilt is not None or args.roll is not None):
        raise CalibrationError("--tilt and --roll describe the camera with --camera-height: pass it too (or neither, "
                               "to measure the floor from the feet)")  # fmt: skip
    if args.camera_height is not None and args.source is not None:
        raise CalibrationError("pass either --camera-height (and --tilt, --roll) or --source to measure from the "
                               "feet, not both")  # fmt: skip
    measuring = measuring_options(args)
    if args.camera_height is not None and measuring:
        them = "it" if len(measuring) == 1 else "them"
        raise CalibrationError(f"--camera-height gives the floor, so {listed_options(measuring)} (for measuring it "
                               "from the feet) would be ignored: pass either --camera-height (and --tilt, --roll) or "
                               f"--source with {them}, not both")  # fmt: skip
    if args.camera_height is not None:
        tilt, roll = args.tilt or 0.0, args.roll or 0.0
        try:
            floor = fl.floor_from_camera_pose(args.camera_height, tilt, roll)
        except CalibrationError as exc:  # name the options the numbers came from
            given = f"--camera-height {args.camera_height:g} --tilt {tilt:g} --roll {roll:g}"
            raise CalibrationError(f"{given}: {exc}") from None
        # as given (:g showed a tilt of 89.999999 as 90, which is refused; QA)
        source = f"given: camera {args.camera_height!r} m above the floor, tilt {tilt!r}, roll {roll!r} deg"
    else:
        args.source = "0" if args.source is None else args.source
        args.seconds = DEFAULT_SECONDS if args.seconds is None else args.seconds
        check_observe_seconds(args.seconds)
        feet = FeetCollector()
        observe(args, [feet])
        floor, source = feet.floor(without_password(str(args.source)))  # (the floor file says it, as a take does)
    try:
        save_floor(floor, args.output, source, replace=named)
    except OutputPathError as exc:  # (review: a measurement lost to another run's file was said without it)
        if named:  # -o's own refusals (a folder, another kind of file) are said as they are
            raise
        given = f"--camera-height {floor.camera_height_m:.4f} --tilt {floor.tilt_deg:.3f} --roll {floor.roll_deg:.3f}"
        raise OutputPathError(f"{args.output} appeared while this ran (another run?): it is kept; write this floor "
                              f"elsewhere with `posecast calibrate floor {given} -o OTHER.yaml`") from exc
    log.info("floor: camera %.2f m above it, tilt %.1f deg, roll %.1f deg (%s) → %s",
             floor.camera_height_m, floor.tilt_deg, floor.roll_deg, source, args.output)  # fmt: skip
    return 0


def measuring_options(args: argparse.Namespace) -> list[str]:
    """The options given (not left at their default) that only measuring from the feet uses."""
    given = (
        ("--seconds", args.seconds is not None),
        ("--subject-height/--height", args.height is not None),
        ("--subject", args.subject is not None),
        ("--intrinsics", getattr(args, "intrinsics", None) is not None),
        ("--hfov", getattr(args, "hfov", DEFAULT_HFOV_DEG) != DEFAULT_HFOV_DEG),
        ("--model-asset", getattr(args, "model_asset", None) is not None),
        ("--model", getattr(args, "model", None) is not None),
        ("--backend", getattr(args, "backend", "auto") != "auto"),
        ("--int8/--no-int8", getattr(args, "int8", None) is not None),
        ("--no-flip-average", getattr(args, "flip_average", True) is not True),
    )
    return [option for option, is_given in given if is_given]


def default_output(output: Path | None) -> Path:
    """``-o`` as given, or :data:`DEFAULT_OUTPUT` when it does not exist yet: a floor file written
    unasked into the current folder must not replace one that is there (``-o`` names it to)."""
    if output is not None:
        return output
    if DEFAULT_OUTPUT.exists() or DEFAULT_OUTPUT.is_symlink():
        raise OutputPathError(f"{DEFAULT_OUTPUT} already exists in {Path.cwd()} and -o was not given: pass "
                              f"-o {DEFAULT_OUTPUT} to replace it, or -o OTHER.yaml to keep it")  # fmt: skip
    return DEFAULT_OUTPUT
