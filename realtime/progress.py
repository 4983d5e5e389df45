"""Progress bars for long runs (``run``/``demo`` without a window, ``lift``, ``calibrate subject``).

A bar shows on stderr only when stderr is a terminal (never in logs, pipes or CI) and nothing
else writes per-frame lines to the same terminal; log lines are printed above it, not through it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

T = TypeVar("T")


def progress(items: Iterable[T], total: int | None, desc: str, unit: str = "frame",
             enabled: bool = True) -> Iterator[T]:  # fmt: skip
    """Yield ``items`` with a progress bar of ``total`` steps (``None``/0: a counter with the
    rate) when ``enabled`` and stderr is a terminal."""
    if not (enabled and _is_terminal(sys.stderr)):
        yield from items
        return
    with logging_redirect_tqdm(), tqdm(items, total=total or None, desc=desc, unit=unit, leave=False,
                                        dynamic_ncols=True) as bar:  # fmt: skip
        yield from bar


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):  # closed or replaced streams
        return False
