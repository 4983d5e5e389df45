"""The floor and avatar options of the commands that run the pipeline.

``--floor floor.yaml`` (a file from ``posecast calibrate floor``) or
``--floor-camera HEIGHT,TILT[,ROLL]`` (the camera's height above the floor in metres, its tilt
down and roll in degrees) instead of estimating the floor from the feet; ``--mirror`` for
selfie views (every avatar output and engine frame is mirrored: your right hand moves the
avatar's left, on the same side of the screen); ``--no-limb-hold`` lets the avatar's limbs follow
the lifted joints where the 2D detector does not see them (by default they hold their last seen
pose, and relax to rest after 1 s: :mod:`posecast.engines.limb_hold`).
"""

from __future__ import annotations

import argparse

from ..calibration import floor as fl
from ..calibration.errors import CalibrationError
from ..calibration.floor_file import load_floor
from ..engines.cli_args import given_path
from .avatar import AvatarOptions


def add_avatar_arguments(parser: argparse.ArgumentParser, recorded_default: bool = False) -> None:
    """``--floor``, ``--floor-camera``, ``--mirror`` and ``--no-limb-hold`` (module docstring); ``recorded_default``
    (``posecast replay``): the defaults are the recording's, and ``--no-mirror`` undoes its mirror."""
    recorded = " (default: as recorded)" if recorded_default else ""
    floor = parser.add_mutually_exclusive_group()
    floor.add_argument(
        "--floor",
        type=given_path,
        metavar="FILE",
        help="floor file from `posecast calibrate floor` "
        + ("(default: as recorded: a calibrated floor kept, else estimated from the feet again)"
           if recorded_default else "(default: estimated from the feet)"),
    )
    floor.add_argument(
        "--floor-camera",
        metavar="HEIGHT,TILT[,ROLL]",
        help="the floor from the camera's height (m), tilt down and roll (degrees), e.g. 1.2,10",
    )
    parser.add_argument(
        "--mirror",
        action=_MirrorOrNot if recorded_default else "store_true",
        default=None if recorded_default else False,
        help="selfie mirror for avatar outputs and engine frames (your right hand moves the avatar's left)"
        + recorded,
    )
    parser.add_argument(
        "--no-limb-hold",
        dest="limb_hold",
        action="store_false",
        help="let the avatar's limbs follow the lifted joints where the 2D detector does not see them (outside the "
        "image, at its edge, or scored under 0.3); by default they hold their last seen pose, relax to rest (arms "
        "down) after 1 s out, and ease back in 0.2 s",
    )


class _MirrorOrNot(argparse.BooleanOptionalAction):
    """``--mirror`` / ``--no-mirror``, one of them: both were taken, the last winning (QA; ``--vmc``
    twice is refused for the same reason)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:  # fmt: skip
        if getattr(namespace, self.dest, None) is not None:
            parser.error("give one of --mirror and --no-mirror, once (or neither, to keep the recording's)")
        super().__call__(parser, namespace, values, option_string)


def avatar_options(args: argparse.Namespace) -> AvatarOptions:
    """The avatar world's options from the parsed arguments (a bad value: one line, exit 2)."""
    floor = None
    if getattr(args, "floor", None) is not None:
        floor = load_floor(args.floor)
    elif getattr(args, "floor_camera", None) is not None:
        floor = parse_floor_camera(args.floor_camera)
    held = AvatarOptions().limb_hold if getattr(args, "limb_hold", True) else None
    return AvatarOptions(mirror=bool(getattr(args, "mirror", False)), floor=floor, limb_hold=held)


def parse_floor_camera(text: str) -> fl.Floor:
    """``HEIGHT,TILT[,ROLL]`` → the floor that camera sees."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (2, 3):
        raise CalibrationError(
            f"--floor-camera needs HEIGHT,TILT[,ROLL] in metres and degrees (e.g. 1.2,10), got {text!r}"
        )
    try:
        return fl.floor_from_camera_pose(*values)
    except CalibrationError as exc:  # name the option the numbers came from
        raise CalibrationError(f"--floor-camera {text}: {exc}") from None
