"""posecast's wire format: encode, decode and validate, shared by the ZeroMQ sink and ``posecast listen``.

Every message is a two-part ZeroMQ message ``[topic, payload]``; the payload is a msgpack map
(string keys; floats packed as float32, integers as int64). Subscribers filter on the topic.

``b"pose"``: one per tracked person per processed frame (see below for frames with nobody).

========================  ================================================================
``schema_version``        int, :data:`SCHEMA_VERSION`
``person_id``             int >= 0, the tracked person (stable while tracked and across gaps
                          of up to a second of frames without them: a stalled source counts as
                          at most 0.5 s; ids are not reused). Schema 2.
``frame_id``              int, the source frame's id (increasing; gaps are dropped frames)
``capture_ns``            int, ``time.monotonic_ns()`` when the frame was captured
``publish_ns``            int, ``time.monotonic_ns()`` when it was sent (same machine and
                          clock as ``capture_ns``: their difference is the pipeline latency)
``publish_unix_ns``       int, ``time.time_ns()`` when it was sent (wall clock, comparable
                          across machines only as far as their clocks agree)
``tracking``              ``"tracking"`` (joints valid), ``"warming"`` (the temporal window is
                          still filling) or ``"lost"`` (no pose: joints, root and confidence
                          are zeros)
``joints_m``              17 × [x, y, z] metres in the camera frame, root translation included
``confidence``            17 floats in [0, 1], per joint
``root_m``                [x, y, z] metres, the pelvis in the camera frame
``frame``                 ``"camera_xright_ydown_zforward"`` (OpenCV camera axes)
``latency_ms``            optional map stage name → milliseconds (e.g. ``"keypoints2d"``)
``face_m``                optional, 5 × [x, y, z] metres in the camera frame: the nose, left
                          eye, right eye, left ear and right ear as the 2D detector gives them
                          in 3D (MediaPipe's world landmarks), placed so that the ears' midpoint
                          is the head joint; only for a person with joints (tracking or
                          warming) whose face the detector sees (:func:`posecast.engines.
                          face.face_seen`, :func:`~posecast.engines.face.placed_face`).
                          Where the face turns (the head's twist of the avatar outputs)
``source_stalled_s``      optional, only while a live source (camera, stream) has delivered
                          nothing and is being retried: seconds since its last frame. Such a
                          message is ``lost`` and carries the last frame's ``frame_id`` and
                          ``capture_ns``; one is sent per person about every 0.5 s
========================  ================================================================

Every frame gives at least one pose message: one per person the tracker holds (seen, or
``lost`` for up to a second), and when it holds nobody one ``lost`` message with the id of the
last person seen (0 before anyone was): a single-person stream has one message per frame.
All messages of one frame share ``frame_id``.

``b"meta"``: ``schema_version``, ``joint_names``, ``parents`` (index of each joint's parent,
-1 for the root), ``bone_names``, ``units`` (``"m"``), ``frame``, ``max_people``,
``source_fps``, ``publish_ns``, ``publish_unix_ns``, ``meta_interval_s`` and ``assumptions``, a
free map from the pipeline (e.g. ``intrinsics_assumed``, ``height_assumed``, ``hfov_deg``, model
information).

Arrays are nested lists of numbers, not raw bytes: any msgpack library in any language reads
them without knowing numpy's layout (a pose message is about 460 bytes). Joint names are not
repeated in pose messages: the order is fixed by ``schema_version`` and every meta message
carries it. New fields may be added without a version change, so readers must ignore keys
they do not know; removing a field or changing its meaning bumps :data:`SCHEMA_VERSION`.
:func:`decode_pose` also reads schema 1 (one person; ``person_id`` 0).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, fields
from typing import Any

import msgpack
import numpy as np

from ..engines import skeleton
from ..engines.face import NUM_FACE_POINTS
from .errors import SchemaError
from .types import COORDINATE_FRAME, TRACKING_STATES, PersonPose, PoseFrame, StreamMeta, TrackingState

SCHEMA_VERSION = 2
#: Versions :func:`decode_pose` and :func:`decode_meta` read.
READABLE_VERSIONS = (1, 2)
TOPIC_POSE = b"pose"
TOPIC_META = b"meta"
#: posecast's readers (``listen``, ``view``, :class:`~posecast.realtime.subscriber.Subscriber`) drop a
#: peer that sends a larger message: a pose is a few kB, a meta a few tens (QA: three 1.5 GB junk
#: messages took a viewer to 6 GB before they were refused as not msgpack).
MAX_MESSAGE_BYTES = 1 << 20
DEFAULT_ADDRESS = "tcp://127.0.0.1:5555"

__all__ = [
    "COORDINATE_FRAME", "DEFAULT_ADDRESS", "READABLE_VERSIONS", "SCHEMA_VERSION", "TOPIC_META", "TOPIC_POSE",
    "TRACKING_STATES", "MetaMessage", "PoseMessage", "decode_meta", "decode_pose", "encode_meta", "encode_pose",
    "encode_pose_message", "meta_message", "validate_pose_message",
]  # fmt: skip

_ZEROS_17x3 = np.zeros((skeleton.NUM_JOINTS, 3), np.float32).tolist()
_ZEROS_17 = np.zeros(skeleton.NUM_JOINTS, np.float32).tolist()
_ZEROS_3 = [0.0, 0.0, 0.0]


@dataclass
class PoseMessage:
    """A pose message as a subscriber reads it (see the module docstring for each field).
    ``joints_m`` ``(17, 3)``, ``confidence`` ``(17,)``, ``root_m`` ``(3,)``, all float32."""

    frame_id: int
    capture_ns: int
    tracking: TrackingState
    joints_m: np.ndarray
    confidence: np.ndarray
    root_m: np.ndarray
    latency_ms: dict[str, float] | None = None
    publish_ns: int = 0
    publish_unix_ns: int = 0
    schema_version: int = SCHEMA_VERSION
    frame: str = COORDINATE_FRAME
    person_id: int = 0
    source_stalled_s: float = 0.0
    #: ``(5, 3)`` float32, or ``None`` when the message has none
    face_m: np.ndarray | None = None
    #: the fields this schema does not define, as sent (e.g. the avatar world's ``root_height_m``,
    #: ``foot_contact`` and ``frame_pose``): kept, so that a relay or ``posecast listen`` loses nothing
    extra: dict[str, Any] = field(default_factory=dict)


#: The pose message's fields this schema defines (:class:`PoseMessage`, less ``extra``)
POSE_FIELDS = frozenset(f.name for f in fields(PoseMessage)) - {"extra"}


@dataclass
class MetaMessage:
    """A meta message as a subscriber reads it: how to interpret pose messages, and the run's assumptions."""

    assumptions: dict[str, Any] = field(default_factory=dict)
    joint_names: tuple[str, ...] = skeleton.JOINT_NAMES
    parents: tuple[int, ...] = skeleton.PARENTS
    bone_names: tuple[str, ...] = skeleton.BONE_NAMES
    units: str = "m"
    frame: str = COORDINATE_FRAME
    max_people: int = 1
    source_fps: float = 0.0
    meta_interval_s: float = 1.0
    publish_ns: int = 0
    publish_unix_ns: int = 0
    schema_version: int = SCHEMA_VERSION


def _pack(payload: dict[str, Any]) -> bytes:
    # one Packer per thread, reused: msgpack.packb builds a Packer (and its 256 kB buffer) per call
    packer = getattr(_PACKERS, "packer", None)
    if packer is None:
        packer = _PACKERS.packer = msgpack.Packer(use_bin_type=True, use_single_float=True)
    return packer.pack(payload)


_PACKERS = threading.local()


def unpack_map(payload: bytes) -> dict[str, Any]:
    """A message's msgpack map, or :class:`SchemaError` (the messages' and the recordings' one reader)."""
    try:
        message = msgpack.unpackb(payload, raw=False)
    except (ValueError, msgpack.UnpackException) as exc:
        problem = str(exc) or type(exc).__name__
        raise SchemaError(f"payload is not msgpack ({problem}): expected a posecast message") from exc
    if not isinstance(message, dict):
        raise SchemaError(f"payload is a msgpack {type(message).__name__}: expected a map")
    if not _nested_within(message, MAX_NESTING):  # (security QA: 600 levels, 700 bytes, ended listen with a
        # RecursionError traceback; a reader's own code recurses over a message too)
        raise SchemaError(f"payload nests lists and maps more than {MAX_NESTING} deep: not a posecast message")
    return message


#: Lists and maps inside one another a message may hold (posecast's own go 4 deep)
MAX_NESTING = 32


def _nested_within(value: object, limit: int) -> bool:
    """Whether ``value``'s lists and maps go at most ``limit`` deep (without recursing itself)."""
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return False
        items = container.values() if isinstance(container, dict) else container
        stack.extend((item, depth + 1) for item in items if isinstance(item, (dict, list)))
    return True


def _float32_list(array: np.ndarray) -> list:
    return np.asarray(array, np.float32).tolist()


def encode_pose(
    frame: PoseFrame,
    person: PersonPose,
    publish_ns: int,
    publish_unix_ns: int,
    with_latency: bool = True,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """One person of a :class:`PoseFrame` → msgpack payload (topic :data:`TOPIC_POSE`);
    ``publish_ns`` / ``publish_unix_ns`` are the send time on the monotonic and wall clocks;
    ``extra``: more fields (the avatar world's, :func:`posecast.realtime.avatar.pose_fields`)."""
    posed = person.joints_m is not None
    payload = {
        "schema_version": SCHEMA_VERSION,
        "person_id": int(person.person_id),
        "frame_id": int(frame.frame_id),
        "capture_ns": int(frame.capture_ns),
        "publish_ns": int(publish_ns),
        "publish_unix_ns": int(publish_unix_ns),
        "tracking": person.tracking,
        "joints_m": _float32_list(person.joints_m) if posed else _ZEROS_17x3,
        "confidence": _float32_list(person.confidence) if posed else _ZEROS_17,
        "root_m": _float32_list(person.root_m) if posed else _ZEROS_3,
        "frame": COORDINATE_FRAME,
    }
    if posed and person.face_m is not None:
        payload["face_m"] = _float32_list(person.face_m)
    if with_latency:
        payload["latency_ms"] = {str(k): v / 1e6 for k, v in frame.stage_ns.items()}
    if frame.source_stalled_s > 0:
        payload["source_stalled_s"] = float(frame.source_stalled_s)
    if extra:
        payload.update(extra)
    return _pack(payload)


def encode_pose_message(message: PoseMessage) -> bytes:
    """A :class:`PoseMessage` (e.g. one decoded, to relay or replay it) → msgpack payload."""
    payload = {
        "schema_version": message.schema_version,
        "person_id": int(message.person_id),
        "frame_id": int(message.frame_id),
        "capture_ns": int(message.capture_ns),
        "publish_ns": int(message.publish_ns),
        "publish_unix_ns": int(message.publish_unix_ns),
        "tracking": message.tracking,
        "joints_m": _float32_list(message.joints_m),
        "confidence": _float32_list(message.confidence),
        "root_m": _float32_list(message.root_m),
        "frame": message.frame,
    }
    if message.face_m is not None:
        payload["face_m"] = _float32_list(message.face_m)
    if message.latency_ms is not None:
        payload["latency_ms"] = {str(k): float(v) for k, v in message.latency_ms.items()}
    if message.source_stalled_s > 0:
        payload["source_stalled_s"] = float(message.source_stalled_s)
    payload.update(message.extra)
    try:
        return _pack(payload)
    except OverflowError:  # another publisher's field beyond float32: relayed as float64, unchanged
        return msgpack.packb(payload, use_bin_type=True)


def decode_pose(payload: bytes) -> PoseMessage:
    """msgpack payload → :class:`PoseMessage`; raises :class:`SchemaError` on a bad message."""
    m = unpack_map(payload)
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
        person_id=m.get("person_id", 0),
        source_stalled_s=float(m.get("source_stalled_s", 0.0)),
        face_m=np.asarray(m["face_m"], np.float32) if "face_m" in m else None,
        extra={k: v for k, v in m.items() if k not in POSE_FIELDS},
    )


def meta_message(meta: StreamMeta, meta_interval_s: float = 1.0) -> MetaMessage:
    """The wire form of a :class:`StreamMeta` (the intrinsics travel in ``assumptions``)."""
    return MetaMessage(
        assumptions=dict(meta.assumptions), joint_names=tuple(meta.joint_names), parents=tuple(meta.parents),
        bone_names=tuple(meta.bone_names), units=meta.units, frame=meta.frame, max_people=meta.max_people,
        source_fps=float(meta.source_fps), meta_interval_s=meta_interval_s,
    )  # fmt: skip


def encode_meta(message: MetaMessage) -> bytes:
    """:class:`MetaMessage` → msgpack payload (the topic is :data:`TOPIC_META`)."""
    payload = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(message).items()}
    return _pack(payload)


def decode_meta(payload: bytes) -> MetaMessage:
    """msgpack payload → :class:`MetaMessage`; raises :class:`SchemaError` on a bad message."""
    m = unpack_map(payload)
    _check_version(m)
    known = MetaMessage.__dataclass_fields__
    missing = [k for k in ("joint_names", "parents", "frame", "units") if k not in m]
    if missing:
        raise SchemaError(f"meta message lacks field {missing[0]!r}")
    _check_meta_fields(m)
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in m.items() if k in known}
    return MetaMessage(**values)


def _check_meta_fields(m: dict[str, Any]) -> None:
    """The types of the meta fields posecast defines (the others are the reader's to ignore)."""
    for name in ("joint_names", "bone_names"):
        if name in m and not (isinstance(m[name], list) and all(isinstance(v, str) for v in m[name])):
            raise SchemaError(f"field {name!r} must be a list of names, got {m[name]!r:.80}")
    if len(m["joint_names"]) != skeleton.NUM_JOINTS:  # (QA: 3 names passed, and listen said "3 joints")
        raise SchemaError(f"field 'joint_names' must name the {skeleton.NUM_JOINTS} joints, got "
                          f"{len(m['joint_names'])}")  # fmt: skip
    parents = m["parents"]
    if not (isinstance(parents, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in parents)
            and len(parents) == len(m["joint_names"])):  # fmt: skip
        raise SchemaError(f"field 'parents' must be one int per joint name, got {parents!r:.80}")
    for name in ("units", "frame"):
        if not isinstance(m[name], str):
            raise SchemaError(f"field {name!r} must be a string, got {m[name]!r:.80}")
    if "assumptions" in m and not isinstance(m["assumptions"], dict):
        raise SchemaError(f"field 'assumptions' must be a map, got {m['assumptions']!r:.80}")
    for name in ("max_people", "publish_ns", "publish_unix_ns"):
        if name in m:
            _check_count(m, name)
    for name, low in (("source_fps", 0.0), ("meta_interval_s", 1e-9)):
        value = m.get(name, low)
        if not (_finite(value) and low <= value):
            raise SchemaError(f"field {name!r} must be a finite number >= {low:g}, got {value!r:.80}")


def _check_version(m: dict[str, Any]) -> int:
    version = m.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaError(f"field 'schema_version' must be an int, got {version!r}")
    if version not in READABLE_VERSIONS:
        raise SchemaError(
            f"field 'schema_version' is {version}, this posecast reads {READABLE_VERSIONS[0]} to "
            f"{READABLE_VERSIONS[-1]}: use the same posecast version on both ends"
        )
    return version


def checked_numbers(value: Any, name: str, shape: tuple[int, ...], low: float = -math.inf, high: float = math.inf,
                    unseen_nan: bool = False) -> np.ndarray:  # fmt: skip
    """``value`` (field ``name``) as float32 ``shape``: nested lists of numbers (not strings or
    booleans), finite as float32 (how they are read), within ``low..high``; ``unseen_nan``: NaN is
    allowed too (a 2D detector's "not seen"), infinities never. Raises :class:`SchemaError`. The
    messages' and the recordings' one check."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"field {name!r} must hold numbers of shape {shape}: {exc}") from exc
    if array.dtype.kind not in "iuf":
        raise SchemaError(f"field {name!r} must hold numbers, got {array.dtype.name} values")
    if array.shape != shape:
        raise SchemaError(f"field {name!r} must have shape {shape}, got {array.shape}")
    with np.errstate(over="ignore"):
        values = array.astype(np.float32)
    checked = values[~np.isnan(values)] if unseen_nan else values
    if checked.size and not (np.isfinite(checked).all() and low <= checked.min() and checked.max() <= high):
        bounds = f" from {low:g} to {high:g}" if np.isfinite(low) or np.isfinite(high) else ""
        raise SchemaError(f"field {name!r} must hold finite numbers{bounds}")
    return values


def _check_count(message: dict[str, Any], name: str) -> None:
    value = message.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SchemaError(f"field {name!r} must be a non-negative int, got {value!r}")


def validate_pose_message(message: dict[str, Any]) -> None:
    """Check a decoded pose map against the schema (version 1 or 2); raises
    :class:`SchemaError` naming the first bad field. Unknown extra fields are allowed."""
    version = _check_version(message)
    # a version 1 message may carry a person_id too (a third-party publisher): checked where it is
    # (review: a v1 person_id "x" passed, and stopped the viewer's forwarding for good)
    with_id = ("person_id",) if version >= 2 or "person_id" in message else ()
    for name in ("frame_id", "capture_ns", "publish_ns", "publish_unix_ns", *with_id):
        _check_count(message, name)
    if message.get("tracking") not in TRACKING_STATES:
        raise SchemaError(f"field 'tracking' must be one of {TRACKING_STATES}, got {message.get('tracking')!r}")
    if message.get("frame") != COORDINATE_FRAME:
        raise SchemaError(f"field 'frame' must be {COORDINATE_FRAME!r}, got {message.get('frame')!r}")
    inf, joints = math.inf, skeleton.NUM_JOINTS
    for name, shape, low, high in (("joints_m", (joints, 3), -inf, inf), ("confidence", (joints,), 0.0, 1.0),
                                   ("root_m", (3,), -inf, inf)):  # fmt: skip
        if name not in message:
            raise SchemaError(f"field {name!r} is missing")
        checked_numbers(message[name], name, shape, low, high)
    if "face_m" in message:
        checked_numbers(message["face_m"], "face_m", (NUM_FACE_POINTS, 3), -inf, inf)
    latency = message.get("latency_ms")
    if latency is not None and not (
        isinstance(latency, dict) and all(isinstance(k, str) and _finite(v) for k, v in latency.items())
    ):  # (QA: NaN, infinity and true were taken, and `listen --json` printed lines no JSON parser reads)
        raise SchemaError(f"field 'latency_ms' must map stage names to finite milliseconds, got {latency!r:.80}")
    stalled = message.get("source_stalled_s", 0.0)
    if not (_finite(stalled) and stalled >= 0.0):
        raise SchemaError(f"field 'source_stalled_s' must be a finite number of seconds >= 0, got {stalled!r:.80}")
    height = message.get("root_height_m", 0.0)  # the avatar world's, when there
    if not _finite(height):
        raise SchemaError(f"field 'root_height_m' must be a finite number of metres, got {height!r:.80}")
    _check_avatar_fields(message)


def _check_avatar_fields(message: dict[str, Any]) -> None:
    """The avatar world's ``foot_contact`` and ``frame_pose``, when there (an engine reading a
    ``frame_pose`` of the wrong shape or with a NaN drew an exploded avatar: now refused as
    ``joints_m`` is)."""
    contact = message.get("foot_contact", [False, False])
    if not (isinstance(contact, list | tuple) and len(contact) == 2 and all(isinstance(c, bool) for c in contact)):
        raise SchemaError(f"field 'foot_contact' must be [left, right] booleans, got {contact!r:.80}")
    if "frame_pose" not in message:
        return
    pose = message["frame_pose"]
    if not isinstance(pose, dict):
        raise SchemaError(f"field 'frame_pose' must be a map, got {pose!r:.80}")
    for name in ("frame", "units"):
        if not isinstance(pose.get(name), str):
            raise SchemaError(f"field 'frame_pose.{name}' must be a string, got {pose.get(name)!r:.80}")
    for name, width in (("joints", 3), ("rotations", 4)):
        if name not in pose:
            raise SchemaError(f"field 'frame_pose.{name}' is missing")
        checked_numbers(pose[name], f"frame_pose.{name}", (skeleton.NUM_JOINTS, width))


def _finite(value: Any) -> bool:
    """Whether ``value`` is a finite int or float (a boolean is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
