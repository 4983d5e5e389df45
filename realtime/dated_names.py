"""Dated names: a ``--record FOLDER`` take's and ``posecast bench``'s default results folder.

A name holds the UTC time it was made, ``PREFIX-YYYYmmdd-HHMMSSZ`` (``take-20261025-003000Z``):
sorted by name (``ls``, a file manager, ``sorted(glob)``), they are in the order they were made,
and two made at different times never share a name, across a daylight-saving fall-back (local
02:30 happens twice) and a change of the machine's time zone. Local time without its offset did
neither (before 2026-12-07: ``take-20261025-023000``, a take after the fall-back sorted before
one an hour older, or took its name with ``-2``). Local time with its offset would be unique but
still sorts out of order. No ``:`` (refused by Windows, shown as ``/`` by macOS), so a take can
be copied anywhere; what the time was where it was made is logged (:func:`local_time_text`) and
kept inside (a take's header ``created_unix_ns``, ``bench.json``'s ``date`` with its offset).
Names an older posecast wrote stay as they were and are read as any other.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The wall clock names are taken from (Unix seconds): a test sets a time around a
#: daylight-saving change here, and everything else runs as it would.
clock: Callable[[], float] = time.time


def dated_name(prefix: str, now: float | None = None) -> str:
    """``PREFIX-YYYYmmdd-HHMMSSZ``: the UTC time ``now`` (Unix seconds; default: :data:`clock`)."""
    return time.strftime(f"{prefix}-%Y%m%d-%H%M%SZ", time.gmtime(clock() if now is None else now))


def local_time_text(now: float | None = None) -> str:
    """``now`` in the local time with its UTC offset, ``2026-10-25 02:30:00 +0200``: for people."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(clock() if now is None else now))
