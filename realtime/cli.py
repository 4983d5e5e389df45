"""The ``posecast`` command: a thin argparse front over the packages.

Each command group lives with the code it drives and exposes ``register(subparsers)``:
``calibration.cli`` (calibrate camera; returns the ``calibrate`` group so that
``realtime.commands`` can add ``calibrate subject``, which needs the live pipeline),
``engines.cli`` (engines build|info|bench), ``engines.cli_assets`` (assets list|fetch),
``realtime.listen`` (listen) and ``realtime.commands`` (run, demo, lift). Training and evaluation are tools in
``tools/`` (they need torch, which the live path never imports).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from ..calibration import cli as calibration_cli
from ..engines import cli as engines_cli
from ..engines import cli_assets as assets_cli
from ..engines.errors import PosecastError
from . import commands, listen

log = logging.getLogger("posecast")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posecast", description="Real-time 3D human pose from a webcam.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs, native library output")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    calibrate_sub = calibration_cli.register(sub)
    engines_cli.register(sub)
    assets_cli.register(sub)
    listen.register(sub)
    commands.register(sub, calibrate_sub)
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
