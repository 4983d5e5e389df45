"""A small Python client of a posecast stream (:class:`Subscriber`), used by ``posecast listen``,
tests and Python consumers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import zmq

from ..engines.errors import PosecastError
from .endpoints import (
    SilenceReconnect,
    bind_owned,
    check_host,
    check_port,
    ipv6_option,
    open_listener_notice,
    remove_own_ipc_file,
)
from .errors import SchemaError
from .schema import (
    DEFAULT_ADDRESS,
    MAX_MESSAGE_BYTES,
    TOPIC_META,
    TOPIC_POSE,
    MetaMessage,
    PoseMessage,
    decode_meta,
    decode_pose,
)

#: Seconds without a message after which a reader says its stream is quiet (a publisher repeats its
#: meta every second), and the least time between two "new run" notices: ``posecast listen`` and
#: ``posecast view`` alike
QUIET_NOTICE_S = 5.0
#: Seconds a receiving thread takes at most to see a close from another thread.
CLOSE_CHECK_S = 0.1

log = logging.getLogger(__name__)


def silence_words(publisher_up: bool, heard_before: bool, address_option: str) -> tuple[str, str]:
    """What a reader says of a stream quiet for :data:`QUIET_NOTICE_S` (``posecast listen`` and
    ``posecast view`` alike): what it has not had, and the likely why. ``publisher_up``: metas still
    come, no pose (a stuck pipeline, a model loading); ``heard_before``: the stream had spoken;
    ``address_option``: the reader's option that names the address."""
    if publisher_up:
        return "no pose", "its meta keeps coming: the publisher is up but sends no frames?"
    if heard_before:
        return "nothing more", "the publisher stopped?"
    return "no message", f"is `posecast run` publishing there? check {address_option}"


def _check_arguments(address: object, topics: object, receive_hwm: object) -> None:
    """Plain ``TypeError``/``ValueError`` for arguments of the wrong kind, before ZeroMQ's own
    (``expected bytes, got: 112`` for ``topics=b"pose"``)."""
    if not isinstance(address, str):
        raise TypeError(f"address must be a string such as {DEFAULT_ADDRESS!r}, got {address!r}")
    if not isinstance(topics, (tuple, list)) or not all(isinstance(t, bytes) for t in topics):
        raise TypeError(f"topics must be a tuple of bytes such as ({TOPIC_POSE!r},), got {topics!r}")
    if isinstance(receive_hwm, bool) or not isinstance(receive_hwm, int) or receive_hwm < 0:
        raise ValueError(f"receive_hwm must be a whole number of messages, 0 or more (0: no limit), got "
                         f"{receive_hwm!r}")  # fmt: skip


class Subscriber:
    """A SUB socket on a posecast stream. ``address`` is ``tcp://HOST:PORT`` (or
    ``connect:tcp://HOST:PORT``) to connect to (the publisher binds) or ``bind:tcp://HOST:PORT``
    when the publisher connects.

    Like the ZeroMQ socket it wraps, a Subscriber receives on one thread at a time: two threads
    receiving on one socket read each other's message parts. :meth:`close` may come from any
    thread: a :meth:`recv` waiting on another ends with ``None``.

    :attr:`run_index` says when the publisher started again (a restarted ``posecast run`` counts
    ``frame_id`` and ``person_id`` from 0): a reader keeping state per person, such as an avatar's
    filters, drops it when ``run_index`` changes."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        topics: Sequence[bytes] = (TOPIC_POSE, TOPIC_META),
        receive_hwm: int = 16,
        context: zmq.Context | None = None,
    ) -> None:
        _check_arguments(address, topics, receive_hwm)
        self.address = address
        self._pending_error: SchemaError | None = None  # a bad message that ended a recv_all batch
        #: which run of the publisher the last pose came from: 0 for the first heard, one more each
        #: time a pose's ``frame_id`` is lower than the previous pose's (docs/protocol.md, "A new run")
        self.run_index = 0
        self._last_pose_frame_id = -1
        self._held: PoseMessage | None = None  # a new run's first pose, which ended a recv_all batch
        # ZeroMQ sockets are not thread-safe: one thread receives at a time, and a close from another
        # ends that thread's wait before the socket closes (API QA: two threads receiving at once
        # aborted the process in libzmq; a close during a recv gave a raw ZMQError)
        self._receiving = threading.Lock()
        self._receiver: int | None = None  # the thread waiting in recv now
        self._closing = False
        self._socket = (context or zmq.Context.instance()).socket(zmq.SUB)
        self._socket.setsockopt(zmq.IPV6, ipv6_option(address))
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, receive_hwm)
        self._socket.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)  # a larger one drops its sender
        for topic in topics:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic)
        # (``connect:`` as `posecast run --publish` takes it: connecting is the default here)
        endpoint = address.removeprefix("bind:").removeprefix("connect:")
        self._ipc_file: tuple[Path, int] | None = None  # the socket file bound here, removed on close
        # a path that died silently is connected again (endpoints.SILENT_RECONNECT_S)
        self._silence = SilenceReconnect(self._socket, None if address.startswith("bind:") else endpoint)
        try:
            check_port(endpoint, binding=address.startswith("bind:"))
            if address.startswith("bind:"):
                self._ipc_file = bind_owned(self._socket, endpoint)
                if (notice := open_listener_notice(self._socket.getsockopt_string(zmq.LAST_ENDPOINT))) is not None:
                    log.warning("%s", notice)
            else:
                check_host(endpoint)
                self._socket.connect(endpoint)
        except PosecastError:
            self._socket.close(linger=0)
            raise
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            if exc.errno == zmq.EADDRINUSE:
                raise PosecastError(f"cannot listen on {address!r}: another program uses that address (is a "
                                    "subscriber already bound there?); pass another port") from exc  # fmt: skip
            raise PosecastError(f"cannot listen on {address!r} ({exc}): expected e.g. {DEFAULT_ADDRESS}") from exc

    @property
    def bound_address(self) -> str | None:
        """``bind:ENDPOINT`` as bound (port 0 or ``*`` replaced by the port ZeroMQ chose); ``None``
        when this subscriber connects."""
        if not self.address.startswith("bind:"):
            return None
        return "bind:" + self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def recv(self, timeout_s: float | None = None) -> PoseMessage | MetaMessage | None:
        """Block up to ``timeout_s`` seconds (forever when None) for the next message of the
        subscribed topics (prefixes, as ZeroMQ's: ``(b"",)`` is every topic); None on timeout. A
        topic other than ``pose`` and ``meta`` is skipped (a later ``pose2`` matches ``b"pose"``
        too). Raises :class:`SchemaError`
        for a message that does not follow the schema, :class:`PosecastError` once closed."""
        self._check_open()
        if self._pending_error is not None:  # the bad message that ended recv_all's batch, said now
            error, self._pending_error = self._pending_error, None
            raise error
        if timeout_s is not None and not (isinstance(timeout_s, (int, float)) and not isinstance(timeout_s, bool)
                                          and timeout_s == timeout_s):  # fmt: skip
            raise TypeError(f"timeout_s must be a number of seconds or None, got {timeout_s!r}")
        if self._held is not None:  # the new run's first message, which ended recv_all's batch
            message, self._held = self._held, None
        else:
            message = self._receive(timeout_s)
        if isinstance(message, PoseMessage):
            if self._begins_a_run(message):
                self.run_index += 1
            self._last_pose_frame_id = message.frame_id
        return message

    def _begins_a_run(self, message: PoseMessage | MetaMessage) -> bool:
        """A publisher started again counts frames from 0: its people are new ones, whatever their
        person_id (with several publishers on one address the frames interleave and this counts
        their alternations, as the protocol says)."""
        return isinstance(message, PoseMessage) and message.frame_id < self._last_pose_frame_id

    def _check_open(self) -> None:
        if self._closing or self._socket.closed:
            raise PosecastError(f"this Subscriber of {self.address} is closed: make a new one to receive again")

    def _receive(self, timeout_s: float | None) -> PoseMessage | MetaMessage | None:
        """The next message of ours, decoded, or None after ``timeout_s`` or a close from another
        thread; nothing counted. One thread at a time (threads may take turns)."""
        if not self._receiving.acquire(blocking=False):
            self._check_open()  # (closing: said as closed)
            raise PosecastError(f"this Subscriber of {self.address} is receiving on another thread now: ZeroMQ "
                                "sockets are not thread-safe; make a Subscriber for each thread")  # fmt: skip
        self._receiver = threading.get_ident()
        try:
            deadline = None if timeout_s is None else time.monotonic() + max(0.0, timeout_s)
            while True:
                if self._closing:
                    return None
                left_s = CLOSE_CHECK_S if deadline is None else max(0.0, deadline - time.monotonic())
                # in slices: a close from another thread is seen within one
                if not self._socket.poll(int(min(left_s, CLOSE_CHECK_S) * 1000), zmq.POLLIN):
                    self._silence.check()
                    if deadline is not None and time.monotonic() >= deadline:
                        return None
                    continue
                if (message := self._take()) is not None:
                    return message
        finally:
            self._receiver = None
            if self._closing:  # closed meanwhile, by this thread too (a signal handler): the socket goes here
                self._close_socket()
            self._receiving.release()

    def _take(self) -> PoseMessage | MetaMessage | None:
        """The message waiting, decoded; None for another topic's."""
        parts = self._socket.recv_multipart()
        self._silence.heard()
        if len(parts) != 2:
            raise SchemaError(f"expected a two-part message [topic, payload], got {len(parts)} parts")
        topic, payload = parts
        if topic == TOPIC_POSE:
            return decode_pose(payload)
        if topic == TOPIC_META:
            return decode_meta(payload)
        # another topic (a subscription matches by prefix: b"" or b"pose" take b"pose2" too): not ours
        return None

    def recv_all(self, timeout_s: float | None = 0.0, max_messages: int = 1000) -> list[PoseMessage | MetaMessage]:
        """The messages waiting now (at most ``max_messages``, so a stream faster than decoding
        still returns), oldest first, after waiting up to ``timeout_s`` seconds for the first (0:
        not at all; None: forever); ``[]`` when none came. A reader that draws once per frame of
        its own should take them all and use each person's newest: taking one message per drawn
        frame reads ever older poses once the stream is faster than the drawing, since ZeroMQ's
        queue and the kernel's receive buffer (hundreds of KiB) hold them in order. Raises as
        :meth:`recv`; a message off the schema after good ones ends the batch, which is returned,
        and is raised by the next :meth:`recv` or :meth:`recv_all`. A batch holds one run of the
        publisher: the first pose of a new run ends it, and comes first in the next batch, with
        :attr:`run_index` one more (a batch across the restart kept the old run's people as the
        newest poses of ids the new run may not have)."""
        if not (isinstance(max_messages, int) and not isinstance(max_messages, bool) and max_messages >= 1):
            raise TypeError(f"max_messages must be a whole number, 1 or more, got {max_messages!r}")  # (QA: 0 gave 1)
        first = self.recv(timeout_s)
        if first is None:
            return []
        messages = [first]
        while len(messages) < max_messages:
            try:
                message = self._receive(0.0)
            except SchemaError as exc:
                self._pending_error = exc
                break
            if message is None:
                break
            if self._begins_a_run(message):  # kept for the next call, which counts the run
                self._held = message
                break
            if isinstance(message, PoseMessage):
                self._last_pose_frame_id = message.frame_id
            messages.append(message)
        return messages

    def close(self) -> None:
        """Close the socket (safe twice, and from any thread: a ``recv`` waiting ends with None
        first). From the receiving thread itself (a signal handler that ran during its wait) the
        socket closes as that wait ends (review: waiting for the wait here never ended)."""
        self._closing = True
        if self._receiver == threading.get_ident():
            return
        with self._receiving:  # the receiving thread leaves its wait within CLOSE_CHECK_S
            self._close_socket()

    def _close_socket(self) -> None:
        if not self._socket.closed:
            self._socket.close(linger=0)
            remove_own_ipc_file(self._ipc_file)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
