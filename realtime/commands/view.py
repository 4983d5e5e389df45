"""``posecast view``: watch a posecast stream's 3D in a browser (a local page, three.js)."""

from __future__ import annotations

import argparse
import logging

from ..schema import DEFAULT_ADDRESS
from ..viewer.server import DEFAULT_PORT, ViewerOptions, ViewerServer

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("view", help="watch the live 3D in a browser (serves a local page)")
    parser.add_argument("--stream", "--address", dest="stream", default=DEFAULT_ADDRESS,  # (--address: as listen)
                        help=f"ZeroMQ stream to watch (default {DEFAULT_ADDRESS}; bind:tcp://... to bind, for a "
                             "publisher that connects)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1",
                        help="address, host name or (Linux) interface name to serve the page on (default "
                             "127.0.0.1: this machine only; :: or 0.0.0.0: every interface)")  # fmt: skip
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port of the page (default {DEFAULT_PORT}; 0 picks a free one)")  # fmt: skip
    parser.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                        help="another name the page may be opened by (repeatable; IP addresses, localhost and "
                             "this machine's names need none): requests naming others are refused, so that no "
                             "other web site can read the stream")  # fmt: skip
    parser.set_defaults(func=view)


def view(args: argparse.Namespace) -> int:
    """Serve the viewer until Ctrl-C."""
    server = ViewerServer(
        ViewerOptions(stream=args.stream, host=args.host, port=args.port, allowed_hosts=tuple(args.allow_host))
    )
    url = server.start()
    print(f"posecast view: open {url} in a browser (Ctrl-C stops)", flush=True)
    server.wait()
    return 0
