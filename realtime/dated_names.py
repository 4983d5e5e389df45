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
A run started in the same second as another adds its number in that second, ``_002``, ``_003``…
(:func:`names_in_second`): by bytes (``LC_ALL=C ls``, ``sorted()``) ``_`` sorts after ``.`` (a
take's ``.posecast``) and the digits are padded, so ``_010`` comes after ``_009``; a locale's
collation that passes over punctuation (``ls`` in en_US.UTF-8) lists it before the first, as it
did ``-2``, the name before 2026-12-07, which sorted before the first by bytes too (``-`` before
``.``), and ``-10`` before ``-2``.
Names an older posecast wrote stay as they were and are read as any other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

#: The wall clock names are taken from (Unix seconds): a test sets a time around a
#: daylight-saving change here, and everything else runs as it would.
clock: Callable[[], float] = time.time


def dated_name(prefix: str, now: float | None = None) -> str:
    """``PREFIX-YYYYmmdd-HHMMSSZ``: the UTC time ``now`` (Unix seconds; default: :data:`clock`)."""
    return time.strftime(f"{prefix}-%Y%m%d-%H%M%SZ", time.gmtime(clock() if now is None else now))


#: Digits of a same-second run's number (``_002``): padded to sort in order, up to 999 runs a second.
SAME_SECOND_DIGITS = 3


def names_in_second(prefix: str, now: float | None = None) -> Iterator[str]:
    """The names a run started at ``now`` may take, in order: :func:`dated_name`, then for the
    second, third… run of that second ``PREFIX-YYYYmmdd-HHMMSSZ_002``, ``_003``… to ``_999``.
    Each sorts after the one before by bytes (``LC_ALL=C ls``, ``sorted()``), a take's ``.posecast``
    after it included (``.`` before ``_``), and before the next second's."""
    stem = dated_name(prefix, now)
    yield stem
    for number in range(2, 10**SAME_SECOND_DIGITS):
        yield f"{stem}_{number:0{SAME_SECOND_DIGITS}d}"


def local_time_text(now: float | None = None) -> str:
    """``now`` in the local time with its UTC offset, ``2026-10-25 02:30:00 +0200``: for people."""
    return time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(clock() if now is None else now))
