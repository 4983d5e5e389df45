"""The ``posecast`` command: a thin argparse front over the packages.

Each command group lives with the code it drives and exposes ``register(subparsers)``:
``calibration.cli`` (calibrate camera; returns the ``calibrate`` group so that
``realtime.commands`` can add ``calibrate subject``, which needs the live pipeline),
``engines.cli`` (engines build|info|bench), ``realtime.listen`` (listen) and
``realtime.commands`` (run, demo, lift). Training and evaluation are tools in
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
    calibrate = _optional("posecast.calibration.cli")
    calibrate_sub = calibrate.register(sub) if calibrate else None
    for name in ("posecast.engines.cli", "posecast.engines.cli_assets", "posecast.realtime.listen"):
        module = _optional(name)
        if module:
            module.register(sub)
    commands = _optional("posecast.realtime.commands")
    if commands:
        commands.register(sub, calibrate_sub)
    return parser


def _optional(name: str):  # noqa: ANN202 - a module or None
    # TODO(lead): make these plain imports once every command group has landed.
    try:
        return __import__(name, fromlist=["register"])
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


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
