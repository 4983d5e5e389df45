"""``posecast listen``: subscribe to a posecast stream and print it."""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
import time

from ...engines.errors import PosecastError, escaped
from ..endpoints import SILENT_RECONNECT_S
from ..errors import OptionsError, SchemaError
from ..message_text import format_line, to_json
from ..schema import DEFAULT_ADDRESS, MetaMessage, PoseMessage
from ..subscriber import QUIET_NOTICE_S, Subscriber, silence_words

log = logging.getLogger(__name__)


#: The longest --timeout, seconds (a week; ZeroMQ's poll takes a C int of milliseconds, 24.8 days).
MAX_TIMEOUT_S = 7 * 24 * 3600.0
#: Kinds of bad message said, each once; after them, none.
_MAX_KINDS_SAID = 8
#: A meta within this many of its publisher's intervals (``meta_interval_s``, every second by
#: default, frames or not), and at most ``SILENT_RECONNECT_S`` ago, says the publisher is up (review:
#: a fixed 3 s called a publisher closed 0.5-1.3 s after its last pose "up")
_META_FRESH_INTERVALS = 1.5


class ListenTimeoutError(PosecastError):
    """No message arrived within the time allowed."""


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("listen", help="print the poses a posecast stream publishes")
    parser.add_argument(
        "--address",
        "--stream",  # (as `posecast view` names it: QA reused one name for both)
        dest="address",
        default=DEFAULT_ADDRESS,
        help=f"stream to connect to (default {DEFAULT_ADDRESS}; bind:tcp://... to bind)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line instead of text (every field; "
                        "numbers shortened for reading: joints to 10 µm)")  # fmt: skip
    parser.add_argument("--count", type=int, default=None, metavar="N", help="exit after N pose messages")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="exit with an error after S seconds without a pose message (the meta a publisher repeats every "
        "second does not count: a stuck pipeline still sends it)",
    )
    parser.set_defaults(func=listen)
    return parser


def listen(args: argparse.Namespace) -> int:
    """Handler of ``posecast listen``: prints messages until ``--count`` poses arrived."""
    if args.count is not None and args.count < 1:
        raise OptionsError(f"--count must be 1 or more, got {args.count}")
    if args.timeout is not None and not 0 < args.timeout <= MAX_TIMEOUT_S:
        raise OptionsError(
            f"--timeout must be more than 0 and at most {MAX_TIMEOUT_S:g} seconds (a week), got {args.timeout:g}: "
            "leave it out to wait forever"
        )
    if args.address.removeprefix("bind:").removeprefix("connect:").startswith("inproc://"):  # (as run's --publish)
        raise OptionsError(f"--address {args.address}: inproc:// is reachable only inside one process, so no "
                           "posecast run could publish to it: pass tcp://HOST:PORT or ipc://PATH")  # fmt: skip
    poses = 0
    with Subscriber(args.address) as subscriber:
        # the port bound, where bind:tcp://HOST:0 asked for any free one (the publisher must be told it)
        address = subscriber.bound_address or args.address
        log.info("listening on %s", address)
        # silence is counted from the last pose: the publisher's meta comes every second, frames or
        # not, so a stuck pipeline or one loading a model still sends it (review: --timeout never
        # fired while the publisher was up)
        pose_s = meta_s = time.monotonic()
        meta_fresh_s = SILENT_RECONNECT_S
        quiet_told, heard_any, meta_since_pose, skipped = False, False, False, 0
        warned: set[str] = set()  # the kinds of bad message said (QA: a second kind was never said)
        last_meta_line: str | None = None  # text lines print a meta when it changes (JSON: every one)
        run_index, last_frame_id, new_run_said_s = 0, -1, -math.inf
        while args.count is None or poses < args.count:
            # other messages (skipped) do not break the silence, and a stream of them must not keep
            # --timeout from ever ending the wait
            now_s = time.monotonic()
            waited_s = now_s - pose_s
            publisher_up = meta_since_pose and now_s - meta_s <= meta_fresh_s
            if args.timeout is not None and waited_s >= args.timeout:
                if publisher_up:
                    raise ListenTimeoutError(
                        f"no pose from {address} in {args.timeout:g} s (after {poses} poses), though its meta keeps "
                        "coming: the publisher is up but sends no frames (a model still loading, a stuck pipeline, "
                        f"or a source slower than one frame in {args.timeout:g} s)"
                    )
                if skipped:  # messages came, none a posecast one: not a silent address
                    raise ListenTimeoutError(
                        f"no posecast message from {address} in {args.timeout:g} s (after {poses} poses; "
                        f"{skipped} others skipped, warned above): is a posecast publisher of this version there?"
                    )
                if heard_any:  # (QA: it blamed the address after 120 poses had come from it)
                    raise ListenTimeoutError(f"nothing more from {address} in {args.timeout:g} s (after {poses} "
                                             "poses): the publisher stopped")  # fmt: skip
                raise ListenTimeoutError(
                    f"no message from {address} in {args.timeout:g} s: "
                    "is `posecast run` publishing there? check --address"
                )
            if not quiet_told and waited_s >= QUIET_NOTICE_S:
                quiet_told = True
                if skipped and not publisher_up:  # messages come, none a posecast one (QA: it blamed silence)
                    heard = f"no posecast message ({skipped} others skipped, warned above)"
                    why = "is a posecast publisher of this version there?"
                else:
                    heard, why = silence_words(publisher_up, heard_any, "--address")
                log.warning("%s from %s for %.0f s (a publisher repeats its meta every second): %s; still "
                            "listening (Ctrl-C stops, --timeout S exits)", heard, address, waited_s,
                            why)  # fmt: skip
            wait_s = None if args.timeout is None else max(0.0, args.timeout - waited_s)
            if not quiet_told:  # wake up to say the stream went quiet (it never did before: silence for ever)
                wait_s = max(0.0, min(wait_s if wait_s is not None else QUIET_NOTICE_S, QUIET_NOTICE_S - waited_s))
            try:
                message = subscriber.recv(wait_s)
            except SchemaError as exc:
                skipped += 1
                kind = re.sub(r"\d+", "#", str(exc))  # (the same problem with other numbers: one kind)
                if kind not in warned and len(warned) < _MAX_KINDS_SAID:  # once each: a stream would flood the log
                    warned.add(kind)
                    further = "like it" if len(warned) < _MAX_KINDS_SAID else "of any kind"
                    log.warning("skipping a message: %s (further ones %s are skipped silently)", exc, further)
                continue
            if message is None:
                continue
            skipped, heard_any = 0, True  # (skips: since the last posecast message)
            if isinstance(message, MetaMessage):
                meta_s, meta_since_pose = time.monotonic(), True
                meta_fresh_s = min(SILENT_RECONNECT_S, _META_FRESH_INTERVALS * message.meta_interval_s)
            if isinstance(message, PoseMessage):
                if quiet_told:
                    log.info("%s is publishing %s", address, "again" if poses else "now")
                pose_s, quiet_told, meta_since_pose = time.monotonic(), False, False
                poses += 1
                # said at most every QUIET_NOTICE_S: the frames of several publishers on one address
                # (a bind: or a broker) interleave (review)
                new_run, run_index = subscriber.run_index != run_index, subscriber.run_index
                if new_run and time.monotonic() - new_run_said_s >= QUIET_NOTICE_S:
                    new_run_said_s = time.monotonic()
                    log.info("%s started a new run (frame_id %d after %d): its people are new",
                             address, message.frame_id, last_frame_id)  # fmt: skip
                last_frame_id = message.frame_id
            # a text line shows the publisher's strings as they are, control characters written out
            # (security QA: a meta's ESC sequences set the window's title and cleared the screen)
            line = json.dumps(to_json(message), allow_nan=False) if args.json else escaped(format_line(message))
            if not args.json and isinstance(message, MetaMessage):
                if line == last_meta_line:  # the publisher repeats it every second: a reader sees poses
                    continue
                last_meta_line = line
            write_stdout(line + "\n")
    return 0


def write_stdout(text: str) -> None:
    """Write and flush ``text`` to stdout, line by line for a reader that waits on each (the CLI's
    stdout turns a full disk or a failing device into one line: ``realtime.cli``)."""
    sys.stdout.write(text)
    sys.stdout.flush()
