"""The ``posecast`` commands: one module per command (arguments and a thin handler), one registry.

To add a command: write ``commands/NAME.py`` with
``register(subparsers)``, which adds its parser and sets ``func`` to its handler
``(args) -> exit code``; add its module name to :data:`COMMANDS`. Handlers raise
:class:`~posecast.engines.errors.PosecastError` for user errors (the CLI prints one line, exit 2).
A command that belongs to a group (``calibrate subject``) adds itself to the group's parser
with :func:`subcommands`, so the group's module must come first in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib

#: Modules whose ``register(subparsers)`` adds a command, in the order ``posecast --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "posecast.realtime.commands.run",
    "posecast.realtime.commands.demo",
    "posecast.realtime.commands.listen",
    "posecast.realtime.commands.lift",
    "posecast.realtime.commands.adapt",  # the one command that dispatches to training (lazily)
    "posecast.realtime.commands.view",
    "posecast.realtime.commands.replay",
    "posecast.realtime.commands.export",
    "posecast.realtime.commands.bench",
    "posecast.realtime.commands.calibrate_camera",
    "posecast.realtime.commands.calibrate_subject",
    "posecast.realtime.commands.floor",  # calibrate floor
    "posecast.realtime.commands.engines",  # engines build | info | bench
    "posecast.realtime.commands.assets",  # assets list | fetch
)


def register_all(subparsers: argparse._SubParsersAction) -> None:
    """Add every command of :data:`COMMANDS` to ``subparsers``."""
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)


def subcommands(subparsers: argparse._SubParsersAction, group: str) -> argparse._SubParsersAction:
    """The sub-command action of the already registered command ``group`` (e.g. ``calibrate``)."""
    parser = subparsers.choices[group]
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
