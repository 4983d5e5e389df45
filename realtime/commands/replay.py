"""``posecast replay``: publish a recording again, at its pace, through the pipeline's outputs."""

from __future__ import annotations

import argparse
import logging
import time

from ...engines.cli_args import given_path
from ..avatar import AvatarOptions, AvatarWorld
from ..avatar_arguments import add_avatar_arguments, avatar_options
from ..errors import OptionsError
from ..recording.format import RecordingError
from ..recording.replay import Replay, ReplayOptions
from ..sinks import SINKS
from ..stages import Sink
from ..types import StreamMeta
from .arguments import add_stage_arguments

log = logging.getLogger(__name__)

#: The outputs a replay can drive (those that need no camera image), when registered.
REPLAY_SINKS = ("zmq", "vmc")


def _sink_classes() -> list[type[Sink]]:
    return [SINKS[name] for name in REPLAY_SINKS if name in SINKS]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("replay", help="publish a recording (.posecast) again at its recorded pace")
    parser.add_argument("recording", type=given_path, help="a file written by `posecast run --record`")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="1 = the recorded pace (default), 2 = twice as fast; 0.01..100")  # fmt: skip
    parser.add_argument("--loop", action="store_true", help="start again at the end, until Ctrl-C")
    parser.add_argument("--wait", type=float, default=1.0, metavar="S",
                        help="seconds from opening the outputs to the first frame, 0..60, for subscribers to "
                             "connect (ZeroMQ delivers nothing to a subscriber before it has joined; "
                             "default 1)")  # fmt: skip
    add_avatar_arguments(parser, recorded_default=True)
    add_stage_arguments(parser, _sink_classes())
    parser.set_defaults(func=replay)


def _build_sinks(args: argparse.Namespace) -> list[Sink]:
    """The outputs asked for, those claiming an address (the publisher's port) last, as ``run``
    builds them; those built are closed again if one fails (review: the port stayed bound)."""
    built: list[Sink] = []
    try:
        for cls in sorted(_sink_classes(), key=lambda cls: cls.claims_address):
            if (sink := cls.from_args(args)) is not None:
                built.append(sink)
    except BaseException:
        for sink in built:
            sink.close()
        raise
    return built


def replay_avatar_options(args: argparse.Namespace, recorded: StreamMeta | None) -> AvatarOptions:
    """The live run's avatar options (as its meta states them), overridden by ``--floor``,
    ``--floor-camera``, ``--mirror`` / ``--no-mirror`` and ``--no-limb-hold``."""
    live = AvatarOptions.from_assumptions({} if recorded is None else recorded.assumptions)
    given = avatar_options(args)
    mirror = live.mirror if getattr(args, "mirror", None) is None else given.mirror
    return AvatarOptions(mirror=mirror, floor=given.floor if given.floor is not None else live.floor,
                         limb_hold=given.limb_hold)


#: How often the outputs are looked after while the replay waits for subscribers (``--wait``).
_IDLE_S = 0.05


def replay(args: argparse.Namespace) -> int:
    """Open the outputs the arguments ask for and hand them the recorded frames."""
    if not 0 <= args.wait <= 60:
        raise RecordingError(f"--wait must be in 0..60 seconds, got {args.wait}")
    frames = Replay(args.recording, ReplayOptions(speed=args.speed, loop=args.loop))
    frames.world = AvatarWorld(replay_avatar_options(args, frames.recorded_meta))
    sinks = _build_sinks(args)
    if not sinks:  # (QA: the whole take played to nobody, exit 0)
        raise OptionsError("replay with --publish none and no --vmc has nothing to send the take to: give --publish "
                           "ADDR or --vmc HOST:PORT")  # fmt: skip
    opened = frames.first_meta or StreamMeta()
    try:
        for sink in sinks:
            sink.open(opened)
        waited_until = time.monotonic() + args.wait  # subscribers join now: they get the meta at once
        while (left_s := waited_until - time.monotonic()) > 0:
            for sink in sinks:
                sink.idle()
            time.sleep(min(left_s, _IDLE_S))
        for meta, frame in frames:
            if meta is not None and meta != opened:
                for sink in sinks:
                    sink.update_meta(meta)
                opened = meta
            for sink in sinks:
                sink.write(frame)
    finally:
        for sink in sinks:
            sink.close()
    log.info("replayed %d frames from %s", frames.frames_sent, args.recording)
    return 0
