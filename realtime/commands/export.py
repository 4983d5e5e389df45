"""``posecast export``: a recording as BVH (for Blender and other tools) or as ``posecast lift`` input."""

from __future__ import annotations

import argparse
import logging
import shlex

import numpy as np

from ...engines.cli_args import given_path, output_file
from ...engines.errors import escaped
from ...engines.fileio import check_outputs, write_together
from ...engines.frames import ENGINE_FRAMES
from ...engines.limb_hold import LimbHoldOptions
from ...engines.runtime.base import MODELS
from ...engines.window_slots import MAX_BRIDGED_GAP_S
from ..recording.arrays import TakeArrays, lift_flags, lift_input, live_settings, read_take, settings_lift_lacks
from ..recording.export import bvh_pieces, check_bvh_output
from ..recording.format import RecordingError
from ..recording.passes import TakeScan, scan_take
from ..stop_signals import stop_signals_deferred

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a recording (.posecast) as BVH or as 2D for `posecast lift`")
    parser.add_argument("recording", type=given_path, help="a file written by `posecast run --record`")
    parser.add_argument("--bvh", type=output_file, help="write the person's motion as BVH here")
    parser.add_argument(
        "--frame",
        choices=tuple(ENGINE_FRAMES),
        default=None,
        help="axes of the BVH (default world: y up, metres, as Blender's importer expects); BVH is right-handed, "
             "so unity and unreal are refused",
    )
    parser.add_argument("--lift-input", type=output_file, metavar="NPZ",
                        help="write the person's 2D as `posecast lift --input` reads it")  # fmt: skip
    parser.add_argument("--person", type=int, default=None, metavar="ID",
                        help="person_id to export (default: the one seen in most frames)")  # fmt: skip
    parser.add_argument("--no-limb-hold", dest="limb_hold", action="store_false",
                        help="let the BVH's limbs follow the recorded joints where the 2D detector did not see them "
                             "(outside the image, at its edge, or scored under 0.3); by default they hold their last "
                             "seen pose, relax to rest (arms down) after 1 s out and ease back in 0.2 s, as the live "
                             "avatar outputs do")  # fmt: skip
    parser.set_defaults(func=export)


#: Takes of this many frames or more are said to be exported before the work (10 minutes at 30 fps).
LONG_TAKE_FRAMES = 18_000


def export(args: argparse.Namespace) -> int:
    if args.bvh is None and args.lift_input is None:
        raise RecordingError("nothing to export: pass --bvh FILE and/or --lift-input FILE")
    if args.frame is not None and args.bvh is None:  # (QA: taken without a word)
        log.warning("--frame %s: it sets the BVH's axes, and no --bvh is written (the option does nothing)",
                    args.frame)  # fmt: skip
    args.frame = args.frame or "world"
    check_outputs({"--bvh": args.bvh, "--lift-input": args.lift_input}, {"the recording": args.recording})
    if args.bvh is not None:
        check_bvh_output(args.bvh, args.frame)
    if args.lift_input is not None and args.lift_input.suffix.lower() != ".npz":
        raise RecordingError(f"--lift-input must name an .npz file (numpy's format, which `posecast lift` reads), "
                             f"got {args.lift_input.name}")  # fmt: skip
    # the lift input is the person's 2D of every frame: read record by record, one person's numbers
    # kept (an hour's take read whole needed about 0.24 GB); a BVH alone reads the take in passes,
    # keeping each frame's timestamp (passes.scan_take: an hour's take at 30 fps then needs 0.15 GB)
    whole = None if args.lift_input is None else read_take(args.recording, args.person)
    take: TakeArrays | TakeScan = scan_take(args.recording, args.person) if whole is None else whole
    if take.frames >= LONG_TAKE_FRAMES:  # (long-inputs QA: an hour's take worked a minute unsaid)
        log.info("exporting %d frames of %s (%.0f min): about half a minute an hour of take", take.frames,
                 args.recording, take.recorded_span_ns / 60e9)  # fmt: skip
    # every output is made before any is moved into place: one that cannot be made (no camera
    # intrinsics for --lift-input, no pose for --bvh) leaves no other behind
    arrays = None if whole is None else lift_input(whole)
    held = LimbHoldOptions() if args.limb_hold else None
    bvh = None if args.bvh is None else bvh_pieces(take, args.bvh, args.frame, None, held)
    files = {} if bvh is None else {args.bvh: lambda fh: fh.writelines(bvh[0])}  # each piece as it is made
    if arrays is not None:
        files[args.lift_input] = lambda fh: np.savez(fh, **arrays)
    # both or neither (QA: a full disk or a stop on the second had taken the file the first replaced),
    # the temporaries made, moved in and removed with the stop signals held (QA: a Ctrl-C then left a
    # temporary), the BVH written (its rows made as they are written: seconds an hour) with them not
    write_together(files, held=stop_signals_deferred)
    if bvh is not None:
        done = bvh[1]
        gaps = f" or in a gap over {MAX_BRIDGED_GAP_S:g} s" if done.resampled else ""
        # what the file holds: a limb held out of view is not where the recording has it (review: the
        # count was of the skeleton unheld, every frame within 1 mm while an arm was held for seconds)
        limbs = f", or a limb held out of view ({done.limb_held} hold one)" if done.limb_held else ""
        aside = ", the held limbs aside" if done.limb_held else ""
        print(escaped(f"wrote {done.path}: person {done.person_id}, {done.summary()} ({done.held} without a pose"
                      f"{gaps} hold the last pose or, before the first, that first pose), frame {args.frame}; "
                      f"floor {done.floor_source}; "
                      f"joints within 1 mm of the recording in {done.frames_within_1mm} of {done.posed} recorded "
                      f"frames with a pose (the others: before the last bone lengths{limbs}; "
                      f"largest {done.max_deviation_m * 1000:.1f} mm{aside})"))  # fmt: skip
    if arrays is not None:
        clock = " and their timestamps" if "timestamps_s" in arrays else ""
        height = f", the subject's {float(arrays['height_m']):.2f} m" if "height_m" in arrays else ""
        settings = live_settings(take)
        flags = "".join(f" {shlex.quote(flag)}" for flag in lift_flags(settings))
        lifted = shlex.quote(str(args.lift_input.with_name(f"{args.lift_input.stem}_3d.npz")))
        given = shlex.quote(str(args.lift_input))
        print(escaped(f"wrote {args.lift_input}: the 2D of {take.frames} frames{clock}{height}, for "
                      f"`posecast lift --input {given} --output {lifted}{flags}`"))
        model = settings.get("model")
        if isinstance(model, str) and model not in MODELS:  # a file: the meta names it, not where it is
            log.info("the take names its model by file name only: give `posecast lift --model` its path")
        if lacks := settings_lift_lacks(settings):  # (QA: lifted again, 55 mm from the take's 3D, without a word)
            log.warning("the take was lifted live with %s: `posecast lift` has no such option, so its 3D from %s "
                        "will differ from the take's", " and ".join(lacks), args.lift_input)  # fmt: skip
    return 0
