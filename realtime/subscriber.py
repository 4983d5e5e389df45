"""A small Python client of a posecast stream (:class:`Subscriber`), used by ``posecast listen``,
tests and Python consumers."""

from __future__ import annotations

from pathlib import Path

import zmq

from ..engines.errors import PosecastError
from .errors import SchemaError
from .schema import (
    DEFAULT_ADDRESS,
    TOPIC_META,
    TOPIC_POSE,
    MetaMessage,
    PoseMessage,
    decode_meta,
    decode_pose,
)
from .sinks.zmq import (
    bound_ipc_file,
    check_host,
    check_ipc_free,
    check_port,
    ipv6_option,
    remove_own_ipc_file,
)


class Subscriber:
    """A SUB socket on a posecast stream. ``address`` is ``tcp://HOST:PORT`` to connect to
    (the publisher binds) or ``bind:tcp://HOST:PORT`` when the publisher connects."""

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        topics: tuple[bytes, ...] = (TOPIC_POSE, TOPIC_META),
        receive_hwm: int = 16,
        context: zmq.Context | None = None,
    ) -> None:
        self.address = address
        self._socket = (context or zmq.Context.instance()).socket(zmq.SUB)
        self._socket.setsockopt(zmq.IPV6, ipv6_option(address))
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, receive_hwm)
        for topic in topics:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic)
        endpoint = address.removeprefix("bind:")
        self._ipc_file: tuple[Path, int] | None = None  # the socket file bound here, removed on close
        try:
            check_port(endpoint, binding=address.startswith("bind:"))
            if address.startswith("bind:"):
                check_ipc_free(endpoint)
                self._socket.bind(endpoint)
                self._ipc_file = bound_ipc_file(endpoint)
            else:
                check_host(endpoint)
                self._socket.connect(endpoint)
        except PosecastError:
            self._socket.close(linger=0)
            raise
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            raise PosecastError(f"cannot listen on {address!r} ({exc}): expected e.g. {DEFAULT_ADDRESS}") from exc

    def recv(self, timeout_s: float | None = None) -> PoseMessage | MetaMessage | None:
        """Block up to ``timeout_s`` (forever when None) for the next message; None on timeout.
        Raises :class:`SchemaError` for a message that does not follow the schema."""
        # zmq's poll takes a C int of milliseconds (24.8 days): a longer wait is a wait forever
        timeout_ms = None if timeout_s is None or timeout_s * 1000 >= 2**31 else max(0, int(timeout_s * 1000))
        if not self._socket.poll(timeout_ms, zmq.POLLIN):
            return None
        parts = self._socket.recv_multipart()
        if len(parts) != 2:
            raise SchemaError(f"expected a two-part message [topic, payload], got {len(parts)} parts")
        topic, payload = parts
        if topic == TOPIC_POSE:
            return decode_pose(payload)
        if topic == TOPIC_META:
            return decode_meta(payload)
        raise SchemaError(f"unknown topic {topic!r}: expected {TOPIC_POSE!r} or {TOPIC_META!r}")

    def close(self) -> None:
        if not self._socket.closed:
            self._socket.close(linger=0)
            remove_own_ipc_file(self._ipc_file)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
