"""The ``posecast`` command: a thin argparse front over the packages.

Each command group lives with the code it drives and exposes ``register(subparsers)``:
``realtime.commands`` (run, demo, lift, listen), ``engines.cli`` (engines build|info|bench),
``calibration.cli`` (calibrate camera|subject). Training and evaluation are tools in
``tools/`` (they need torch, which the live path never imports).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..engines.errors import PosecastError

log = logging.getLogger("posecast")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posecast", description="Real-time 3D human pose from a webcam.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs, native library output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.register(sub)
    return parser


def _command_modules() -> list:
    modules = []
    for name in ("posecast.realtime.commands", "posecast.engines.cli", "posecast.calibration.cli"):
        try:
            modules.append(__import__(name, fromlist=["register"]))
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a command group still to come
                raise
    return modules


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
