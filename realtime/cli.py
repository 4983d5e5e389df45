"""The ``posecast`` command: a thin argparse front over the packages.

Every command is one module registered in :data:`posecast.realtime.commands.COMMANDS` (each
exposes ``register(subparsers)``); this module only builds the parser, sets up logging and
turns a :class:`PosecastError` into one line on stderr and exit code 2. Training and evaluation
are tools in ``tools/`` (they need torch, which the live path never imports).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..engines.errors import PosecastError
from .commands import register_all

log = logging.getLogger("posecast")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posecast", description="Real-time 3D human pose from a webcam.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs, native library output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_all(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except PosecastError as exc:
        if args.verbose:
            log.exception("posecast failed")
        print(f"posecast: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
