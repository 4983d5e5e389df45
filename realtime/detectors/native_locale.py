"""MediaPipe's graphs built under the C locale's character rules.

MediaPipe lower-cases its graph's stream names with the C library's locale-dependent ``tolower``
when a landmarker is made. Python sets ``LC_CTYPE`` from the environment at start-up, and under a
Turkish or Azeri locale ``I`` does not lower to ``i``: MediaPipe then refused its own graph ("TAG:
index:name is invalid"), so every command that finds people failed with ``LANG=tr_TR.UTF-8`` (QA).
Only the making needs it: a landmarker made so runs under any locale.
"""

from __future__ import annotations

import contextlib
import ctypes
import locale
import threading
from collections.abc import Iterator

#: the C locale's character rules; plain "C" where the system has no C.UTF-8
_C_LOCALES = ("C.UTF-8", "C")
_lock = threading.Lock()  # setlocale is the process's: two makers at once restore in turn


def _lowers_i_plainly() -> bool:
    """Whether the C library's ``tolower`` takes "I" to "i" under the locale now (not under a Turkish
    or Azeri one); ``True`` where it cannot be asked."""
    try:
        return ctypes.CDLL(None).tolower(ord("I")) == ord("i")
    except (OSError, AttributeError, TypeError):  # no C library to load by name (Windows: TypeError)
        return True


@contextlib.contextmanager
def c_character_rules() -> Iterator[None]:
    """``LC_CTYPE`` set to the C locale's for the block where the locale's "I" does not lower to
    "i", the caller's restored after it. Only then: the setting is the process's, and other threads
    (a camera's, a writer's) run meanwhile (review)."""
    with _lock:  # (asked inside it: another maker's switch must not answer for this one: review)
        if _lowers_i_plainly():
            yield
            return
        before = locale.setlocale(locale.LC_CTYPE)
        for name in _C_LOCALES:
            try:
                locale.setlocale(locale.LC_CTYPE, name)
                break
            except locale.Error:
                continue
        try:
            yield
        finally:
            locale.setlocale(locale.LC_CTYPE, before)
