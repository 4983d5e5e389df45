"""posecast's error hierarchy: every user-facing failure is a :class:`PosecastError` whose
message is one line saying what was expected, what was found, and how to fix it. The CLI
prints it without a traceback (``--verbose`` shows one)."""

from __future__ import annotations

import sys
from collections.abc import Callable


class PosecastError(Exception):
    """Base of every error posecast reports to a user."""


class ModelError(PosecastError):
    """A model file that is missing, corrupt or from an incompatible version."""


class AssetError(PosecastError):
    """A downloadable asset that is missing, unreachable or fails its checksum."""


class BackendError(PosecastError):
    """A runtime backend that cannot be used here (missing package, no GPU, ...)."""


class LiftInputError(PosecastError, ValueError):
    """A 2D input file in the ``posecast lift`` format that cannot be used (one line: what and how to fix)."""


def run_reporting(work: Callable[[], int | None], tool: str, interrupted: str = "") -> int:
    """Run a command-line tool's ``work`` as the ``posecast`` CLI runs a command: a
    :class:`PosecastError` is one line on stderr and exit code 2, Ctrl-C one line (``tool:
    interrupted``, then ``interrupted``: e.g. how to continue) and exit code 130 (128 + the
    signal's number for another stop signal raised as one, as the shell reports it), never a traceback."""
    try:
        return int(work() or 0)
    except PosecastError as exc:
        print(f"{tool}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"{tool}: interrupted{'; ' + interrupted if interrupted else ''}", file=sys.stderr)
        return 128 + int(getattr(exc, "signum", 2))
