"""posecast's ZeroMQ messages (schema, encode, decode, validate) and the publishing stage.

Wire format
-----------
Every message is a two-part ZeroMQ message ``[topic, payload]``; the payload is a msgpack map
(string keys; floats packed as float32, integers as int64). Subscribers filter on the topic.

``b"pose"``: one per processed frame.

========================  ================================================================
``schema_version``        int, :data:`SCHEMA_VERSION`
``frame_id``              int, the source frame's id (increasing; gaps are dropped frames)
``capture_ns``            int, ``time.monotonic_ns()`` when the frame was captured
``publish_ns``            int, ``time.monotonic_ns()`` when it was sent (same machine and
                          clock as ``capture_ns``: their difference is the pipeline latency)
``publish_unix_ns``       int, ``time.time_ns()`` when it was sent (wall clock, comparable
                          across machines only as far as their clocks agree)
``tracking``              ``"tracking"`` (joints valid), ``"warming"`` (the temporal window is
                          still filling) or ``"lost"`` (no person); use joints only when
                          ``"tracking"``
``joints_m``              17 × [x, y, z] metres in the camera frame, root translation included
``confidence``            17 floats in [0, 1], per joint
``root_m``                [x, y, z] metres, the pelvis in the camera frame
``frame``                 ``"camera_xright_ydown_zforward"`` (OpenCV camera axes)
``latency_ms``            optional map stage name → milliseconds (e.g. ``"keypoints2d"``)
========================  ================================================================

``b"meta"``: sent when the publisher starts, whenever a subscriber subscribes, and every
``meta_interval_s`` (1 s by default): ``schema_version``, ``joint_names``, ``parents``
(index of each joint's parent, -1 for the root), ``bone_names``, ``units`` (``"m"``),
``frame``, ``publish_ns``, ``publish_unix_ns``, ``meta_interval_s`` and ``assumptions``, a free
map from the pipeline (e.g. ``intrinsics_assumed``, ``height_assumed``, ``hfov_deg``, model
information).

Arrays are nested lists of numbers, not raw bytes: any msgpack library in any language reads
them without knowing numpy's layout, and at 17 joints the size difference is negligible
(a pose message is about 450 bytes). :func:`decode_pose` returns numpy float32 arrays.

Joint names are not repeated in every pose message: the joint order is fixed by
``schema_version`` (:data:`posecast.engines.skeleton.JOINT_NAMES`) and every meta message
carries it, so a subscriber that joins late learns it within ``meta_interval_s``.

Compatibility: new fields may be added without a version change, so readers must ignore keys
they do not know; removing a field or changing its meaning bumps :data:`SCHEMA_VERSION`.

Publishing never blocks the pipeline, and one subscriber never starves another: the socket is
an XPUB with a send high-water mark of a few messages *per subscriber* and ZeroMQ's default
drop policy, so when one subscriber's queue is full only that subscriber loses messages
(it sees a gap in ``frame_id``); every other subscriber keeps receiving. (``XPUB_NODROP`` is
deliberately not set: with it one stalled subscriber makes every send fail, silencing all.)
Drops are per subscriber, so they are counted on the receiving side (``posecast listen``
reports frame-id gaps), not here. Address: ``tcp://HOST:PORT`` binds
(default ``tcp://127.0.0.1:5555``; port ``*`` or ``0`` picks a free one); a
``connect:tcp://HOST:PORT`` prefix connects instead, e.g. to a broker's XSUB socket.
"""

from __future__ import annotations

import errno
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np
import zmq

from ..engines import skeleton
from .errors import OptionsError, PublishError, SchemaError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
COORDINATE_FRAME = "camera_xright_ydown_zforward"
TOPIC_POSE = b"pose"
TOPIC_META = b"meta"
TRACKING_STATES = ("tracking", "warming", "lost")
DEFAULT_ADDRESS = "tcp://127.0.0.1:5555"


@dataclass
class PoseMessage:
    """One frame's 3D pose (see the module docstring for each field's meaning).
    ``joints_m`` ``(17, 3)``, ``confidence`` ``(17,)``, ``root_m`` ``(3,)``, all float32."""

    frame_id: int
    capture_ns: int
    tracking: str
    joints_m: np.ndarray
    confidence: np.ndarray
    root_m: np.ndarray
    latency_ms: dict[str, float] | None = None
    publish_ns: int = 0
    publish_unix_ns: int = 0
    schema_version: int = SCHEMA_VERSION
    frame: str = COORDINATE_FRAME


@dataclass
class MetaMessage:
    """What a subscriber needs to interpret pose messages, plus the run's assumptions."""

    assumptions: dict[str, Any] = field(default_factory=dict)
    joint_names: tuple[str, ...] = skeleton.JOINT_NAMES
    parents: tuple[int, ...] = skeleton.PARENTS
    bone_names: tuple[str, ...] = skeleton.BONE_NAMES
    units: str = "m"
    frame: str = COORDINATE_FRAME
    meta_interval_s: float = 1.0
    publish_ns: int = 0
    publish_unix_ns: int = 0
    schema_version: int = SCHEMA_VERSION


def _pack(payload: dict[str, Any]) -> bytes:
    return msgpack.packb(payload, use_bin_type=True, use_single_float=True)


def _unpack(payload: bytes) -> dict[str, Any]:
    try:
        message = msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise SchemaError(f"payload is not msgpack ({exc}): expected a posecast message") from exc
    if not isinstance(message, dict):
        raise SchemaError(f"payload is a msgpack {type(message).__name__}: expected a map")
    return message


def encode_pose(message: PoseMessage) -> bytes:
    """:class:`PoseMessage` → msgpack payload (the topic is :data:`TOPIC_POSE`)."""
    payload = {
        "schema_version": message.schema_version,
        "frame_id": int(message.frame_id),
        "capture_ns": int(message.capture_ns),
        "publish_ns": int(message.publish_ns),
        "publish_unix_ns": int(message.publish_unix_ns),
        "tracking": message.tracking,
        "joints_m": np.asarray(message.joints_m, np.float32).tolist(),
        "confidence": np.asarray(message.confidence, np.float32).tolist(),
        "root_m": np.asarray(message.root_m, np.float32).tolist(),
        "frame": message.frame,
    }
    if message.latency_ms is not None:
        payload["latency_ms"] = {str(k): float(v) for k, v in message.latency_ms.items()}
    return _pack(payload)


def decode_pose(payload: bytes) -> PoseMessage:
    """msgpack payload → :class:`PoseMessage`; raises :class:`SchemaError` on a bad message."""
    m = _unpack(payload)
    validate_pose_message(m)
    return PoseMessage(
        frame_id=m["frame_id"],
        capture_ns=m["capture_ns"],
        tracking=m["tracking"],
        joints_m=np.asarray(m["joints_m"], np.float32),
        confidence=np.asarray(m["confidence"], np.float32),
        root_m=np.asarray(m["root_m"], np.float32),
        latency_ms=m.get("latency_ms"),
        publish_ns=m["publish_ns"],
        publish_unix_ns=m["publish_unix_ns"],
        schema_version=m["schema_version"],
        frame=m["frame"],
    )


def encode_meta(message: MetaMessage) -> bytes:
    """:class:`MetaMessage` → msgpack payload (the topic is :data:`TOPIC_META`)."""
    payload = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(message).items()}
    return _pack(payload)


def decode_meta(payload: bytes) -> MetaMessage:
    """msgpack payload → :class:`MetaMessage`; raises :class:`SchemaError` on a bad message."""
    m = _unpack(payload)
    _check_version(m)
    known = MetaMessage.__dataclass_fields__
    missing = [k for k in ("joint_names", "parents", "frame", "units") if k not in m]
    if missing:
        raise SchemaError(f"meta message lacks field {missing[0]!r}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in m.items() if k in known}
    return MetaMessage(**values)


def _check_version(m: dict[str, Any]) -> None:
    version = m.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaError(f"field 'schema_version' must be an int, got {version!r}")
    if version != SCHEMA_VERSION:
        raise SchemaError(
            f"field 'schema_version' is {version}, this posecast reads {SCHEMA_VERSION}: "
            "use the same posecast version on both ends"
        )


def _check_numbers(m: dict[str, Any], name: str, shape: tuple[int, ...]) -> None:
    try:
        array = np.asarray(m[name], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"field {name!r} must hold numbers of shape {shape}: {exc}") from exc
    if array.shape != shape:
        raise SchemaError(f"field {name!r} must have shape {shape}, got {array.shape}")


def validate_pose_message(message: dict[str, Any]) -> None:
    """Check a decoded pose map against the schema; raises :class:`SchemaError` naming the
    first bad field. Unknown extra fields are allowed."""
    _check_version(message)
    for name in ("frame_id", "capture_ns", "publish_ns", "publish_unix_ns"):
        value = message.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SchemaError(f"field {name!r} must be a non-negative int, got {value!r}")
    if message.get("tracking") not in TRACKING_STATES:
        raise SchemaError(f"field 'tracking' must be one of {TRACKING_STATES}, got {message.get('tracking')!r}")
    if message.get("frame") != COORDINATE_FRAME:
        raise SchemaError(f"field 'frame' must be {COORDINATE_FRAME!r}, got {message.get('frame')!r}")
    for name, shape in (("joints_m", (skeleton.NUM_JOINTS, 3)), ("confidence", (skeleton.NUM_JOINTS,)),
                        ("root_m", (3,))):  # fmt: skip
        if name not in message:
            raise SchemaError(f"field {name!r} is missing")
        _check_numbers(message, name, shape)
    latency = message.get("latency_ms")
    if latency is not None and not (
        isinstance(latency, dict) and all(isinstance(k, str) and isinstance(v, int | float) for k, v in latency.items())
    ):
        raise SchemaError(f"field 'latency_ms' must map stage names to milliseconds, got {latency!r}")


@dataclass
class PublisherOptions:
    """``address``: ``tcp://HOST:PORT`` to bind or ``connect:tcp://HOST:PORT`` to connect;
    ``send_hwm``: messages queued per subscriber before dropping; ``send_buffer_bytes``: the
    kernel send buffer (bounds how stale a slow subscriber's data can get);
    ``meta_interval_s``: how often the meta message is repeated."""

    address: str = DEFAULT_ADDRESS
    send_hwm: int = 4
    send_buffer_bytes: int = 16 * 1024
    meta_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if self.send_hwm < 1:
            raise OptionsError(f"send_hwm must be at least 1, got {self.send_hwm}")
        if self.meta_interval_s <= 0:
            raise OptionsError(f"meta_interval_s must be positive, got {self.meta_interval_s}")


class Publisher:
    """Pipeline stage that sends :class:`PoseMessage` s over ZeroMQ without ever blocking.

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
        self._last_meta_ns = 0
        self._socket = (context or zmq.Context.instance()).socket(zmq.XPUB)
        s = self._socket
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, self.options.send_hwm)
        s.setsockopt(zmq.SNDBUF, self.options.send_buffer_bytes)
        s.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.address = self._attach(self.options.address)
        log.info("publishing poses on %s", self.address)
        self.send_meta()

    def _attach(self, address: str) -> str:
        connect = address.startswith("connect:")
        endpoint = address.removeprefix("connect:").removeprefix("bind:")
        if endpoint.startswith("tcp://") and endpoint.endswith(":0"):
            endpoint = endpoint[:-1] + "*"
        try:
            if connect:
                self._socket.connect(endpoint)
                return f"connect:{endpoint}"
            self._socket.bind(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            if exc.errno == errno.EADDRINUSE:
                raise PublishError(
                    f"address {endpoint} is in use: another posecast? pass --publish tcp://127.0.0.1:PORT"
                ) from exc
            raise PublishError(
                f"cannot {'connect to' if connect else 'bind'} {address!r} ({exc}): expected e.g. "
                f"{DEFAULT_ADDRESS} or connect:tcp://HOST:PORT"
            ) from exc
        return self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def _send(self, topic: bytes, payload: bytes) -> bool:
        try:
            self._socket.send_multipart([topic, payload], flags=zmq.NOBLOCK)
        except zmq.Again:
            self.dropped_messages += 1
            return False
        self.sent_messages += 1
        return True

    def _new_subscriptions(self) -> bool:
        """Drain subscription notices; True when someone subscribed since the last call."""
        subscribed = False
        while True:
            try:
                notice = self._socket.recv(flags=zmq.NOBLOCK)
            except zmq.Again:
                return subscribed
            subscribed |= notice[:1] == b"\x01"

    def send_meta(self) -> bool:
        """Send the meta message now; returns False when it had to be dropped."""
        self._last_meta_ns = time.monotonic_ns()
        self.meta.publish_ns, self.meta.publish_unix_ns = self._last_meta_ns, time.time_ns()
        return self._send(TOPIC_META, encode_meta(self.meta))

    def publish(self, message: PoseMessage) -> bool:
        """Stamp ``publish_ns``/``publish_unix_ns`` on ``message`` and send it (preceded by the
        meta message when due). Never blocks; returns False when the message was dropped."""
        due = time.monotonic_ns() - self._last_meta_ns >= self.options.meta_interval_s * 1e9
        if self._new_subscriptions() or due:
            self.send_meta()
        message.publish_ns, message.publish_unix_ns = time.monotonic_ns(), time.time_ns()
        return self._send(TOPIC_POSE, encode_pose(message))

    process = publish

    def reset(self) -> None:
        """Nothing to forget between runs except the drop counters."""
        self.sent_messages = self.dropped_messages = 0

    def close(self) -> None:
        if not self._socket.closed:
            self._socket.close(linger=0)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
