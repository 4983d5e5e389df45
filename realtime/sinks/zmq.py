"""The ZeroMQ output: :class:`Publisher` (the transport) and :class:`ZmqSink` (the pipeline's sink).

The wire format is :mod:`posecast.realtime.schema`. Publishing never blocks the pipeline, and one
subscriber never starves another: the socket is an XPUB with a send high-water mark of 64
messages *per subscriber* and ZeroMQ's default drop policy, so when one subscriber's queue is
full only that subscriber loses messages (it sees a gap in ``frame_id``); every other
subscriber keeps receiving. (``XPUB_NODROP`` is deliberately not set: with it one stalled
subscriber makes every send fail, silencing all.) Drops are per subscriber, so they are not
counted here: a subscriber sees them as gaps in ``frame_id`` and must count them itself
(``posecast listen`` prints each ``frame_id`` but does not report gaps). Address:
``tcp://HOST:PORT`` binds (default ``tcp://127.0.0.1:5555``; port ``*`` or ``0`` picks a free
one); a ``connect:tcp://HOST:PORT`` prefix connects instead, e.g. to a broker's XSUB socket.
The meta message is sent on start, when a subscriber subscribes (noticed within
:data:`SUBSCRIPTION_CHECK_S`), when it changes and every ``meta_interval_s``: once when these
coincide (a meta sent takes the subscriptions noticed by then). It is repeated whether frames come
or not: while the publisher has sent nothing for :data:`SUBSCRIPTION_CHECK_S` (a slow or stalled
source, a model loading between runs), a keep-alive thread of its own sends it, so a reader that
reconnects after 3 s of silence (endpoints.SILENT_RECONNECT_S) never does so on a live but slow
stream. ZeroMQ sockets are not thread-safe: every use of the socket holds the publisher's lock
(libzmq allows a socket to pass between threads behind a full memory barrier, which a lock is).
Nor are they fork-safe: in the child of an ``os.fork()`` (``multiprocessing``'s fork start method
too) a publisher made before the fork is closed, its ``close()`` forgets the parent's socket
without closing it or its ``ipc://`` file, and publishing on it raises :class:`PublishError`
(:func:`_after_fork_in_child`).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from ...engines.frames import FRAME_NAMES, describe_frame
from ...engines.rotations import SignContinuity
from ..avatar import pose_fields
from ..endpoints import (
    bind_owned,
    check_host,
    check_port,
    connects_off_machine,
    exposed,
    ipv6_option,
    remove_own_ipc_file,
    set_heartbeats,
)
from ..errors import OptionsError, PublishError
from ..option_types import check_field_types
from ..schema import (
    DEFAULT_ADDRESS,
    TOPIC_META,
    TOPIC_POSE,
    MetaMessage,
    PoseMessage,
    encode_meta,
    encode_pose,
    encode_pose_message,
    meta_message,
)
from ..stages import Sink
from ..types import PersonPose, PoseFrame, StreamMeta

log = logging.getLogger(__name__)

_SEND_MORE = zmq.NOBLOCK | zmq.SNDMORE
#: A message from a subscriber (a subscription: its kind byte and a topic, "pose" or "meta") longer
#: than this ends that subscriber's connection; ZeroMQ counts the handshake's metadata too (a
#: subscriber's ZMQ_METADATA of 30 bytes failed at 64: review)
_MAX_SUBSCRIPTION_BYTES = 256
#: How often new subscriptions are looked for while messages go out at camera rates (see meta_if_due).
SUBSCRIPTION_CHECK_S = 0.1
_CHECK_NS = int(SUBSCRIPTION_CHECK_S * 1e9)
#: Sends closer together than this are "rapid": subscriptions are looked for before each one.
_RAPID_NS = 5_000_000
#: The publishers not yet collected: a forked child makes theirs safe to close (_after_fork_in_child).
_LIVE: weakref.WeakSet[Publisher] = weakref.WeakSet()
_FORKED = "this publisher was made before os.fork(): its ZeroMQ socket is the parent's; make a new one here"


@dataclass
class PublisherOptions:
    """``address``: ``tcp://HOST:PORT`` to bind or ``connect:tcp://HOST:PORT`` to connect;
    ``send_hwm``: messages queued per subscriber before dropping for that subscriber (64: about
    2 s of one person at 30 fps, so that a reading subscriber loses nothing while the publisher's
    ZeroMQ thread waits for a core on a busy machine: measured under load ~8 on 2 cores, a
    reading subscriber process lost 363 of 1,862 messages at 30 Hz with 4, none with 64);
    ``send_buffer_bytes``: the kernel send buffer; ``meta_interval_s``: how often the meta
    message is repeated."""

    address: str = DEFAULT_ADDRESS
    send_hwm: int = 64
    send_buffer_bytes: int = 16 * 1024
    meta_interval_s: float = 1.0

    def __post_init__(self) -> None:
        check_field_types(self)  # (API QA: send_hwm="64" was a TypeError from a comparison)
        if self.send_hwm < 1:
            raise OptionsError(f"send_hwm must be at least 1, got {self.send_hwm}")
        if self.meta_interval_s <= 0:
            raise OptionsError(f"meta_interval_s must be positive, got {self.meta_interval_s}")


class Publisher:
    """Sends posecast messages over ZeroMQ without ever blocking.

    The constructor binds (or connects) and raises :class:`PublishError` when the address is
    in use or invalid; ``assumptions`` go into every meta message.
    """

    def __init__(
        self,
        options: PublisherOptions | None = None,
        assumptions: dict[str, Any] | None = None,
        context: zmq.Context | None = None,
    ) -> None:
        self.options = options or PublisherOptions()
        self.meta = MetaMessage(assumptions=dict(assumptions or {}), meta_interval_s=self.options.meta_interval_s)
        self.sent_messages = 0
        self.dropped_messages = 0  # sends refused by the socket itself (not per-subscriber drops)
        self._last_meta_ns = self._last_check_ns = self._last_send_ns = 0
        # the socket's one user at a time: the caller's thread (frames) or the keep-alive's (below)
        self._lock = threading.RLock()
        self._forked = False  # in a forked child: the socket is the parent's (_after_fork_in_child)
        self._socket = (context or zmq.Context.instance()).socket(zmq.XPUB)
        s = self._socket
        s.setsockopt(zmq.IPV6, ipv6_option(self.options.address))
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, self.options.send_hwm)
        s.setsockopt(zmq.SNDBUF, self.options.send_buffer_bytes)
        s.setsockopt(zmq.XPUB_VERBOSE, 1)
        # a peer sending a longer message (a subscription is its kind byte and a topic) is dropped:
        # libzmq keeps every subscription whole (security QA: 5,000 random 2 kB ones took the publisher
        # from 113 to 581 MB, one 20 MB frame to 1 GB); it keeps short ones too, about 2 kB of memory
        # per 60-byte one (in manual mode as well), which no option bounds
        s.setsockopt(zmq.MAXMSGSIZE, _MAX_SUBSCRIPTION_BYTES)
        # a subscriber whose path died silently is dropped with its queue, and with connect: this
        # publisher reconnects to a bound subscriber (endpoints.HEARTBEAT_INTERVAL_MS)
        set_heartbeats(s)
        self._ipc_file: tuple[Path, int] | None = None  # the socket file this publisher bound
        self.address = self._attach(self.options.address)
        log.debug("bound (or connected) to %s", self.address)
        self.send_meta()
        self._stop_keep_alive = threading.Event()
        _LIVE.add(self)  # (before its thread takes the lock)
        # a weak reference: a publisher dropped unclosed is still collected (its thread then ends)
        self._keep_alive = threading.Thread(target=_keep_alive, args=(weakref.ref(self), self._stop_keep_alive),
                                            name="posecast-meta", daemon=True)  # fmt: skip
        self._keep_alive.start()

    def _attach(self, address: str) -> str:
        connect = address.startswith("connect:")
        endpoint = address.removeprefix("connect:").removeprefix("bind:")
        if endpoint.startswith("tcp://") and endpoint.endswith(":0"):
            endpoint = endpoint[:-1] + "*"
        try:
            check_port(endpoint, binding=not connect)
            if connect:
                check_host(endpoint)
                self._socket.connect(endpoint)
                if connects_off_machine(endpoint):  # (QA: said of binding only, as the README says of any address)
                    log.warning("publishing to %s: the pose stream leaves this machine (no authentication, no "
                                "encryption); connect to a 127.0.0.1 address to keep it here", endpoint)  # fmt: skip
                return f"connect:{endpoint}"
            self._ipc_file = bind_owned(self._socket, endpoint)
        except PublishError:
            self._socket.close(linger=0)
            raise
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            if exc.errno == errno.EADDRINUSE:
                raise PublishError(
                    f"address {endpoint} is in use: another posecast? pass --publish tcp://127.0.0.1:PORT "
                    "(PublisherOptions.address)"
                ) from exc
            if exc.errno == errno.ENODEV and not connect:  # ZeroMQ's "No such device": a name it could not bind
                check_host(endpoint)  # an unresolvable one is said as connect: says it
            raise PublishError(
                f"cannot {'connect to' if connect else 'bind'} {address!r} ({exc}): expected e.g. "
                f"{DEFAULT_ADDRESS} or connect:tcp://HOST:PORT"
            ) from exc
        bound = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        if exposed(bound):  # the address bound (QA: tcp://lo:PORT, which binds 127.0.0.1, was said to be open)
            log.warning("publishing on %s: the pose stream is open to the network, anyone who can reach this machine "
                        "on that port can read it (no authentication, no encryption); bind tcp://127.0.0.1:PORT to "
                        "keep it on this machine", bound)  # fmt: skip
        return bound

    def _send(self, topic: bytes, payload: bytes) -> bool:
        # two sends, as send_multipart does, without its per-part checks (this runs every frame);
        # ZeroMQ queues a multipart message whole or not at all: once the topic went, so does the rest
        if self._forked:
            raise PublishError(_FORKED)
        try:
            self._socket.send(topic, _SEND_MORE)
        except zmq.Again:
            self.dropped_messages += 1
            return False
        self._socket.send(payload, zmq.NOBLOCK)
        self.sent_messages += 1
        self._last_send_ns = time.monotonic_ns()
        return True

    def _new_subscriptions(self) -> bool:
        """Drain subscription notices; True when someone subscribed since the last call."""
        if self._forked:
            raise PublishError(_FORKED)
        subscribed = False
        # ask first: a recv that finds nothing raises zmq.Again, and building that exception on
        # every frame cost more than the rest of the publishing (~30 us, 2-3x that with cold caches)
        while self._socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
            try:
                notice = self._socket.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                break
            subscribed |= notice[:1] == b"\x01"
        return subscribed

    def send_meta(self) -> bool:
        """Send the meta message now; returns False when it had to be dropped. The subscriptions
        that reached the socket by now are taken first: this meta is theirs (left pending, each
        had it sent again at the next frame: two identical metas at every start, QA)."""
        with self._lock:
            return self._send_meta()

    def _send_meta(self) -> bool:
        self._new_subscriptions()  # (ZeroMQ has added a subscription to the socket once its notice is there)
        self._last_meta_ns = time.monotonic_ns()
        self.meta.publish_ns, self.meta.publish_unix_ns = self._last_meta_ns, time.time_ns()
        return self._send(TOPIC_META, encode_meta(self.meta))

    def replace_meta(self, meta: MetaMessage) -> bool:
        """Make ``meta`` the meta message and send it now (:meth:`send_meta`), in one turn of the
        socket's lock: the keep-alive thread sent a meta changed halfway (review: the stream's new
        height without its ``output_frame``)."""
        with self._lock:
            self.meta = meta
            return self._send_meta()

    def meta_if_due(self) -> None:
        """Send the meta message when a subscriber joined or ``meta_interval_s`` has passed."""
        with self._lock:
            self._meta_if_due()

    def _meta_if_due(self) -> None:
        now_ns = time.monotonic_ns()
        # Looking for subscriptions makes libzmq process its pending commands (a system call: ~25 us
        # of CPU, ~70 us right after MediaPipe). Its own send does that too when ~1 ms has passed
        # since it last did, which keeps the subscriptions and the subscribers' read positions
        # current at camera rates: look every SUBSCRIPTION_CHECK_S then, and before every send when
        # they come faster (a replay, a relay): else sends < 1 ms apart find stale read positions
        # and drop messages a reading subscriber has room for.
        joined = False
        if now_ns - self._last_send_ns < _RAPID_NS or now_ns - self._last_check_ns >= _CHECK_NS:
            self._last_check_ns = now_ns
            joined = self._new_subscriptions()
        if joined or now_ns - self._last_meta_ns >= self.options.meta_interval_s * 1e9:
            self._send_meta()

    def keep_alive_wait_s(self) -> float:
        """How long the keep-alive thread sleeps before it looks again: until the meta is due and
        the publisher quiet (:meth:`keep_alive`), at most :data:`SUBSCRIPTION_CHECK_S` (a subscriber
        joining a quiet publisher gets its meta as soon as it would between frames; an overdue meta
        at camera rates waits for the next frame's, not in 1 ms turns)."""
        now_ns = time.monotonic_ns()
        due_ns = self._last_meta_ns + self.options.meta_interval_s * 1e9 - now_ns
        quiet_ns = self._last_send_ns + _CHECK_NS - now_ns
        return min(SUBSCRIPTION_CHECK_S, max(0.001, max(due_ns, quiet_ns) / 1e9))

    def keep_alive(self) -> None:
        """The keep-alive thread's turn: what a frame would do (:meth:`meta_if_due`), when no
        message went out for :data:`SUBSCRIPTION_CHECK_S` (else the frames' sends do it, and the
        camera's thread does not wait for this one's system calls)."""
        if time.monotonic_ns() - self._last_send_ns >= _CHECK_NS:
            with self._lock:
                if not self.closed:  # (its turn may come after a close)
                    self._meta_if_due()

    def send_pose(self, payload: bytes) -> bool:
        """Send one encoded pose message. Never blocks; returns False when it was dropped."""
        with self._lock:
            return self._send(TOPIC_POSE, payload)

    def publish(self, message: PoseMessage) -> bool:
        """Stamp ``publish_ns``/``publish_unix_ns`` on ``message`` and send it (preceded by the
        meta message when due); for relays and tests. Never blocks; False when dropped."""
        with self._lock:
            self.meta_if_due()
            message.publish_ns, message.publish_unix_ns = time.monotonic_ns(), time.time_ns()
            return self.send_pose(encode_pose_message(message))

    def reset(self) -> None:
        """Nothing to forget between runs except the drop counters."""
        self.sent_messages = self.dropped_messages = 0

    @property
    def closed(self) -> bool:
        """True once closed, and in a forked child (its socket is the parent's)."""
        return self._forked or self._socket.closed

    def close(self) -> None:
        """Close the socket and remove its ``ipc://`` file; in a forked child, only forget them:
        they are the parent's (libzmq leaves closing a parent's socket in a child undefined)."""
        self._stop_keep_alive.set()
        with self._lock:
            if not self.closed:
                self._socket.close(linger=0)
                remove_own_ipc_file(self._ipc_file)
        if threading.current_thread() is not self._keep_alive:
            self._keep_alive.join(timeout=1.0)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _after_fork_in_child() -> None:
    """In a forked child, each publisher gets a fresh lock and stop event, and is closed without
    touching its socket (:meth:`Publisher.close`). The parent's were copied as they were: held by
    its keep-alive thread (the lock ~50 us every 0.1 s, the event's own lock as each wait begins
    and ends), which the child does not have, they hung the child's ``close()`` for good (review:
    1 fork in ~2,000 while quiet). Nothing is taken in the parent before the fork
    (``before=``): the child never uses the socket, so there is nothing to keep consistent, and
    every fork would wait on each publisher's lock."""
    for publisher in list(_LIVE):
        publisher._lock = threading.RLock()
        publisher._stop_keep_alive = threading.Event()
        publisher._stop_keep_alive.set()
        publisher._forked = True


if hasattr(os, "register_at_fork"):  # (Windows has no fork)
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _keep_alive(publisher_ref: weakref.ref[Publisher], stop: threading.Event) -> None:
    """The keep-alive thread: repeats the meta while the publisher is quiet, until it is closed or
    collected (see the module docstring)."""
    wait_s = SUBSCRIPTION_CHECK_S
    while not stop.wait(wait_s):
        publisher = publisher_ref()
        if publisher is None:
            return
        try:
            publisher.keep_alive()
        except zmq.ZMQError as exc:  # (the context terminated under it: nothing left to keep alive)
            log.debug("the meta keep-alive ends: %s", exc)
            return
        wait_s = publisher.keep_alive_wait_s()
        del publisher


def publish_address(text: str) -> str:
    """An argparse ``type`` for ``--publish``: a TCP port's form is checked as the options are
    parsed, before any file is read or port claimed (binding it is the publisher's)."""
    if text.lower() != "none":
        try:
            check_port(text.removeprefix("connect:").removeprefix("bind:"), binding=not text.startswith("connect:"))
        except PublishError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


class ZmqSink(Sink):
    """The pipeline's ZeroMQ output: every person of every frame as a pose message (see
    :mod:`posecast.realtime.schema`), the meta message when it changes. Binds in the
    constructor (a port in use fails before anything slow loads); inline, never blocks."""

    name = "zmq"
    inline = True
    claims_address = True

    def __init__(self, options: PublisherOptions | None = None, output_frame: str | None = None) -> None:
        self.publisher = Publisher(options)
        self.address = self.publisher.address
        self._last_person_id = 0
        self._announced = False  # "publishing poses on ..." said (open)
        #: ``--frame``: each pose also in this engine frame (:func:`posecast.realtime.avatar.pose_fields`)
        self.output_frame = output_frame
        self._signs = SignContinuity()  # each person's frame_pose rotations in one hemisphere

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--publish", default=DEFAULT_ADDRESS, type=publish_address,
                            help=f"ZeroMQ address to bind (or connect:ADDR); 'none' to not publish "
                                 f"(default: {DEFAULT_ADDRESS})")  # fmt: skip
        parser.add_argument("--frame", choices=FRAME_NAMES,
                            help="also publish each pose (joints, bone rotations) in this engine's frame")  # fmt: skip

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ZmqSink | None:
        address = getattr(args, "publish", "none")
        frame = getattr(args, "frame", None)
        if address is None or address.lower() == "none":
            if frame is not None:
                raise OptionsError(f"--frame {frame} adds engine-frame poses to the published messages, and "
                                   f"--publish none publishes none: drop one of them")  # fmt: skip
            return None
        if address.removeprefix("bind:").startswith("inproc://"):  # as bench refuses it
            raise OptionsError(f"--publish {address}: inproc:// is reachable only inside this process, so nothing "
                               "could receive the poses: pass tcp://HOST:PORT or ipc://PATH")  # fmt: skip
        return cls(PublisherOptions(address=address), frame)

    def open(self, meta: StreamMeta) -> None:
        if self.publisher.closed:  # (API QA: ZeroMQ's "Socket operation on non-socket")
            raise PublishError(f"the ZeroMQ output on {self.address} was closed: make a new ZmqSink for another run")
        # said once the run starts (the source open, the models loaded), not when the port is taken
        # before them: a camera that does not open must not follow "publishing"; once per sink (the
        # benchmark opens it with every configuration it measures)
        if not self._announced:
            self._announced = True
            log.info("publishing poses on %s", self.publisher.address)
        self.update_meta(meta)

    def update_meta(self, meta: StreamMeta) -> None:
        message = meta_message(meta, self.publisher.options.meta_interval_s)
        if self.output_frame is not None:
            message.assumptions["output_frame"] = describe_frame(self.output_frame)
        self.publisher.replace_meta(message)  # (made whole first: review)

    def write(self, frame: PoseFrame) -> None:
        self.publisher.meta_if_due()
        people = frame.people or [PersonPose.lost(self._last_person_id)]
        for person in people:
            extra = pose_fields(frame.world, person.person_id, self.output_frame, self._signs)
            payload = encode_pose(frame, person, time.monotonic_ns(), time.time_ns(), extra=extra)
            if not self.publisher.send_pose(payload):
                self.dropped_frames += 1
        self._last_person_id = people[-1].person_id
        self._signs.keep_only({p.person_id for p in frame.people})

    def source_stalled(self, notice: PoseFrame) -> None:
        """While the source is silent: a ``lost`` message per person with ``source_stalled_s``."""
        self.write(notice)

    def idle(self) -> None:
        """Before the first frame: the meta for whoever subscribes, and every second."""
        self.publisher.meta_if_due()

    @property
    def sent_messages(self) -> int:
        return self.publisher.sent_messages

    def close(self) -> None:
        self.publisher.close()
