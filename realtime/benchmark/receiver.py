"""The benchmark's subscriber: a real ZeroMQ SUB socket in another process, as a user's would be.

:class:`Receiver` starts it (``spawn``: a fresh interpreter, no thread or MediaPipe state
inherited), waits until it receives (the publisher repeats its meta message until the
subscriber confirms), and at :meth:`Receiver.stop` gets back, per pose message, the frame id,
its ``capture_ns`` and ``publish_ns`` and the ``time.monotonic_ns()`` at which the message was
received, stamped before decoding. Both processes read the same host clock
(``CLOCK_MONOTONIC`` is system-wide), so publish → receive is a plain difference.

With a ``bare_address`` the same process also subscribes to a bare PUB socket whose messages are
only the sender's ``time.monotonic_ns()`` (8 bytes): ZeroMQ's own latency between these two
processes on this machine, with nothing of posecast (``Received.bare_sent_ns`` / ``bare_receive_ns``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import PublishError
from ..stop_signals import helper_process_signals, start_helper_process

_READY, _DONE = "ready", "done"


def _subscribe(address: str, conn, stop, bare_address: str | None = None) -> None:  # noqa: ANN001 - Connections
    """The subscriber process: receive until ``stop`` (a pipe's end) is readable, then send the records back."""
    helper_process_signals()  # Ctrl-C reaches the whole process group: the parent's to handle

    import msgpack
    import zmq

    from ..endpoints import ipv6_option
    from ..schema import TOPIC_META, TOPIC_POSE

    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.IPV6, ipv6_option(address))
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 1000)
    sub.setsockopt(zmq.SUBSCRIBE, TOPIC_POSE)
    sub.setsockopt(zmq.SUBSCRIBE, TOPIC_META)
    sub.connect(address)
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    bare = None
    if bare_address is not None:
        bare = zmq.Context.instance().socket(zmq.SUB)
        bare.setsockopt(zmq.LINGER, 0)
        bare.setsockopt(zmq.SUBSCRIBE, b"")
        bare.connect(bare_address)
        poller.register(bare, zmq.POLLIN)
    records: list[tuple[int, int, int, int]] = []
    bare_records: list[tuple[int, int]] = []
    ready = False
    # closed by the parent, also by its death: one killed outright (SIGKILL, the OOM killer) left this
    # process, with multiprocessing's resource tracker, running for good (QA)
    while not stop.poll():
        events = dict(poller.poll(100))
        if bare is not None and bare in events:
            while True:
                try:
                    stamp = bare.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                bare_records.append((int.from_bytes(stamp, "little"), time.monotonic_ns()))
        if sub not in events:
            continue
        while True:
            try:
                topic, payload = sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            received_ns = time.monotonic_ns()
            if not ready:
                conn.send(_READY)
                ready = True
            if topic == TOPIC_POSE:  # read raw, not through the schema's decoder: this measures the wire
                m = msgpack.unpackb(payload)
                records.append((m["frame_id"], m["capture_ns"], m["publish_ns"], received_ns))
    sub.close()
    if bare is not None:
        bare.close()
    with contextlib.suppress(BrokenPipeError):  # a parent killed outright ends the loop too: nobody reads this
        conn.send((_DONE, np.asarray(records, np.int64).reshape(-1, 4),
                   np.asarray(bare_records, np.int64).reshape(-1, 2)))  # fmt: skip
    conn.close()


@dataclass
class Received:
    """Per frame id (the last message of the frame): ``frame_id``, ``capture_ns``,
    ``publish_ns``, ``receive_ns``, all ``(M,)`` int64; ``messages`` received in all."""

    frame_id: np.ndarray
    capture_ns: np.ndarray
    publish_ns: np.ndarray
    receive_ns: np.ndarray
    messages: int
    #: the bare ZeroMQ messages (``bare_address``): their send and receive times, ``(R,)`` each
    bare_sent_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    bare_receive_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def from_records(cls, records: np.ndarray, bare: np.ndarray | None = None) -> Received:
        bare_fields = {}
        if bare is not None and len(bare):
            bare_fields = {"bare_sent_ns": bare[:, 0], "bare_receive_ns": bare[:, 1]}
        if len(records) == 0:
            empty = np.zeros(0, np.int64)
            return cls(empty, empty, empty, empty, 0, **bare_fields)
        order = np.lexsort((records[:, 3], records[:, 0]))
        r = records[order]
        last = np.r_[r[1:, 0] != r[:-1, 0], True]  # a frame's messages: keep the last one received
        r = r[last]
        return cls(r[:, 0], r[:, 1], r[:, 2], r[:, 3], len(records), **bare_fields)

    def lookup(self, frame_ids: np.ndarray, field: str = "receive_ns") -> np.ndarray:
        """``field`` (``receive_ns``, ``publish_ns``, ``capture_ns``) for each of ``frame_ids``
        (-1 when that frame never arrived)."""
        frame_ids = np.asarray(frame_ids, np.int64)
        out = np.full(len(frame_ids), -1, np.int64)
        if len(self.frame_id):
            pos = np.clip(np.searchsorted(self.frame_id, frame_ids), 0, len(self.frame_id) - 1)
            hit = self.frame_id[pos] == frame_ids
            out[hit] = getattr(self, field)[pos[hit]]
        return out


class Receiver:
    """The subscriber process for a publisher at ``address`` and, with ``bare_address``, a bare
    PUB socket (see the module docstring)."""

    def __init__(self, address: str, bare_address: str | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=False)
        # the stop: our end of a pipe, closed. A multiprocessing Event's lock and waiter count stay taken by a
        # process killed in them, and set() waited for it for ever (QA: SIGTERM to the process group in a soak)
        stop, self._stop = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_subscribe, args=(address, child, stop, bare_address),
                                   name="bench-subscriber", daemon=True)  # fmt: skip
        start_helper_process(self.process)
        child.close()
        stop.close()

    def wait_ready(self, send_meta, timeout_s: float = 30.0) -> None:  # noqa: ANN001 - () -> object
        """Call ``send_meta()`` until the subscriber has received a message (bounded wait)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            send_meta()
            try:
                if self._conn.poll(0.05) and self._conn.recv() == _READY:
                    return
            except EOFError:  # it died as it started (review: a traceback): its end is near
                self.process.join(timeout=5.0)
                break
            if not self.process.is_alive():
                break
        died = not self.process.is_alive()  # before stop(), which may end one that hangs (review)
        self.stop()
        if died and self.process.exitcode:
            raise PublishError(f"the benchmark's subscriber process ended as it started (exit "
                               f"{self.process.exitcode}); run with -v to see why")  # fmt: skip
        raise PublishError(f"the benchmark's subscriber received nothing within {timeout_s:g} s")

    def stop(self, timeout_s: float = 10.0) -> Received:
        """Stop the subscriber and return what it received (again: nothing, once stopped; the
        benchmark's clean-up stops one that :meth:`wait_ready` stopped, which was "handle is
        closed", a traceback; environment QA)."""
        if self._conn.closed:
            return Received.from_records(np.zeros((0, 4), np.int64), None)
        self._stop.close()
        records, bare = np.zeros((0, 4), np.int64), None
        deadline = time.monotonic() + timeout_s
        while self._conn.poll(max(0.0, deadline - time.monotonic())):
            try:
                message = self._conn.recv()
            except EOFError:  # the subscriber died without sending its records
                break
            if isinstance(message, tuple) and message[0] == _DONE:
                records, bare = message[1], message[2]
                break
        self.process.join(timeout=timeout_s)
        if self.process.is_alive():
            self.process.kill()
        self._conn.close()
        return Received.from_records(records, bare)
