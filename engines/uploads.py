"""Keep native libraries' usage uploads off the network (posecast's rule: no network at run time
but the explicit, checksummed asset download).

The mediapipe wheel (1.2.x) links Google's usage-metrics uploader into its native library: a
minute after a landmarker starts and when it closes it posts to ``https://play.googleapis.com/log``
with the libcurl built in beside it (a DNS query for that name is the first thing that leaves;
measured with ``strace`` on 2026-12-05). No API, option or environment variable of MediaPipe turns
it off. Its libcurl takes its proxy from ``https_proxy``, so :func:`block_native_uploads` points
that at a loopback port this process holds bound and never listens on: the connection is refused
on this machine and nothing is resolved or sent. Done this way because posecast does not own
MediaPipe's binary or its calls; the test suite checks the premise (MediaPipe's upload goes through
``https_proxy``) on the installed wheel.

The change is process-wide: every HTTPS client that honours ``https_proxy`` in this process is sent
to the dead port. posecast's CLI calls it first thing; a program embedding posecast calls it itself
if it wants the same. posecast's own download (:mod:`.assets`) uses the proxies the user had
before (:func:`user_proxies`), so a corporate proxy still works for it.
"""

from __future__ import annotations

import logging
import os
import socket
import urllib.request

log = logging.getLogger(__name__)

#: The host MediaPipe's uploader posts to (kept for the no_proxy check and the tests).
UPLOAD_HOST = "play.googleapis.com"
_PROXY_VARIABLES = ("https_proxy", "HTTPS_PROXY")
#: onnxruntime's switch for its own telemetry (read when it is imported).
ORT_TELEMETRY_VARIABLE = "ORT_DISABLE_TELEMETRY"

#: the held port's number; its socket, bound and never listening (a connection to it is refused),
#: is kept open by its descriptor alone for the process's life: a socket object left to the exit was
#: "ResourceWarning: unclosed socket" under PYTHONWARNINGS (QA)
_held_port: int | None = None
_user_proxies: dict[str, str] = {}  # the proxies the environment held before it named the held port


def _dead_url() -> str:
    global _held_port
    if _held_port is None:
        held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        held.bind(("127.0.0.1", 0))
        _held_port = held.getsockname()[1]
        held.detach()
    return f"http://127.0.0.1:{_held_port}"


def _blocking() -> bool:
    """Whether the environment still sends HTTPS to the held port (a caller may have put it back)."""
    return _held_port is not None and os.environ.get("https_proxy") == _dead_url()


def block_native_uploads() -> str:
    """Send this process's HTTPS through a proxy that refuses every connection; returns its URL.

    Idempotent. The user's own proxy settings are kept for :func:`user_proxies`."""
    global _user_proxies
    if not _blocking():  # the first call, or the environment was changed since
        _user_proxies = urllib.request.getproxies()
        if urllib.request.proxy_bypass_environment(UPLOAD_HOST, _user_proxies):
            log.warning("no_proxy exempts %s, so MediaPipe's usage metrics may still be sent; remove it from "
                        "no_proxy to keep them on this machine", UPLOAD_HOST)  # fmt: skip
    dead_url = _dead_url()
    for name in _PROXY_VARIABLES:
        os.environ[name] = dead_url
    # onnxruntime (1.32) keeps telemetry of its own, off with this before it is imported (ops QA:
    # where HOME cannot be written, every start logged its warning in colour codes)
    os.environ.setdefault(ORT_TELEMETRY_VARIABLE, "1")
    return dead_url


def user_proxies() -> dict[str, str]:
    """The proxies (``urllib.request.getproxies()`` form) as the user set them: while
    :func:`block_native_uploads` is in force, those from before it; otherwise the environment's."""
    return dict(_user_proxies) if _blocking() else urllib.request.getproxies()
