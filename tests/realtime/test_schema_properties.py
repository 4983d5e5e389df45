"""Property-based tests (hypothesis) of message decoding (issue 15): whatever bytes arrive on the
socket, :func:`decode_pose` and :func:`decode_meta` give a valid message or raise
:class:`SchemaError`; never another exception. A valid pose message has the schema's shapes and
types, and it re-encodes to a message that decodes the same."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from posecast.realtime.errors import SchemaError
from posecast.realtime.schema import (
    TRACKING_STATES,
    MetaMessage,
    PoseMessage,
    decode_meta,
    decode_pose,
    encode_meta,
    encode_pose_message,
)

SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_VALID_POSE = encode_pose_message(
    PoseMessage(7, 123, "tracking", np.ones((17, 3), np.float32), np.full(17, 0.5, np.float32),
                np.array([0.0, 0.1, 3.0], np.float32), {"lift": 0.7}, 150, 1_700_000_000_000_000_000,
                face_m=np.full((5, 3), 0.5, np.float32))
)  # fmt: skip
_VALID_META = encode_meta(MetaMessage(assumptions={"height_m": 1.7}))

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.binary(max_size=8),
    st.sampled_from(list(TRACKING_STATES) + [2, 1, 0, -1, "camera_xright_ydown_zforward"]),
)  # fmt: skip
_keys = st.one_of(st.text(max_size=6), st.integers(-(2**63), 2**63 - 1))
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=18), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=60,
)


def _decode_or_refuse(payload: bytes) -> tuple[PoseMessage | None, MetaMessage | None]:
    pose = meta = None
    try:
        pose = decode_pose(payload)
    except SchemaError as exc:
        assert "\n" not in str(exc)
    try:
        meta = decode_meta(payload)
    except SchemaError as exc:
        assert "\n" not in str(exc)
    return pose, meta


def _check_pose(pose: PoseMessage) -> None:
    assert pose.joints_m.shape == (17, 3) and pose.confidence.shape == (17,) and pose.root_m.shape == (3,)
    assert pose.tracking in TRACKING_STATES
    assert np.isfinite(pose.joints_m).all() and np.isfinite(pose.root_m).all()
    assert pose.confidence.min() >= 0.0 and pose.confidence.max() <= 1.0
    for name in ("frame_id", "capture_ns", "publish_ns", "publish_unix_ns", "person_id"):
        value = getattr(pose, name)
        assert isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if pose.face_m is not None:
        assert pose.face_m.shape == (5, 3) and np.isfinite(pose.face_m).all()
    again = decode_pose(encode_pose_message(pose))
    np.testing.assert_array_equal(again.joints_m, pose.joints_m)
    assert (again.face_m is None) == (pose.face_m is None)
    if pose.face_m is not None:
        np.testing.assert_array_equal(again.face_m, pose.face_m)
    assert (again.frame_id, again.person_id, again.tracking) == (pose.frame_id, pose.person_id, pose.tracking)


@SETTINGS
@given(st.binary(max_size=600))
def test_any_bytes_decode_or_raise_schema_error(payload: bytes) -> None:
    pose, _ = _decode_or_refuse(payload)
    if pose is not None:
        _check_pose(pose)


@SETTINGS
@given(st.data())
def test_corrupted_real_messages_decode_or_raise_schema_error(data: st.DataObject) -> None:
    """A real pose or meta message with bytes flipped, cut, or inserted."""
    payload = bytearray(data.draw(st.sampled_from([_VALID_POSE, _VALID_META])))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(payload)))
        edit = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        if edit == "flip" and at < len(payload):
            payload[at] = data.draw(st.integers(0, 255))
        elif edit == "cut":
            del payload[at:]
        else:
            payload[at:at] = data.draw(st.binary(min_size=1, max_size=4))
    pose, meta = _decode_or_refuse(bytes(payload))
    event("pose decoded" if pose is not None else "meta decoded" if meta is not None else "refused")
    if pose is not None:
        _check_pose(pose)


@SETTINGS
@given(st.data())
def test_any_fields_decode_or_raise_schema_error(data: st.DataObject) -> None:
    """A real message's map with fields replaced by anything msgpack can carry, removed or added."""
    message = msgpack.unpackb(data.draw(st.sampled_from([_VALID_POSE, _VALID_META])), raw=False)
    for key in data.draw(st.lists(st.sampled_from(sorted(message)), max_size=3, unique=True)):
        if data.draw(st.booleans()):
            message[key] = data.draw(_values)
        else:
            del message[key]
    message.update(data.draw(st.dictionaries(st.text(max_size=6), _values, max_size=2)))
    payload = msgpack.packb(message, use_bin_type=True)
    pose, meta = _decode_or_refuse(payload)
    event("pose decoded" if pose is not None else "meta decoded" if meta is not None else "refused")
    if pose is not None:
        _check_pose(pose)
    if meta is not None:
        assert isinstance(meta.joint_names, tuple) and isinstance(meta.parents, tuple)


def test_numbers_a_reader_cannot_use_are_refused() -> None:
    message = msgpack.unpackb(_VALID_POSE, raw=False)
    for field, value, words in [
        ("joints_m", [[float("nan")] * 3] * 17, "finite numbers"),
        ("root_m", [0.0, 0.0, 1e39], "finite numbers"),  # beyond float32: inf once read
        ("confidence", [2.0] * 17, "from 0 to 1"),
        ("confidence", ["0.5"] * 17, "must hold numbers"),
        ("joints_m", [[True, False, True]] * 17, "must hold numbers"),
    ]:
        bad = {**message, field: value}
        with pytest.raises(SchemaError, match=words):
            decode_pose(msgpack.packb(bad, use_bin_type=True))
    meta = msgpack.unpackb(_VALID_META, raw=False)
    for field, value in [("joint_names", 5), ("parents", [0, 1]), ("units", None), ("source_fps", float("nan")),
                         ("assumptions", [1, 2]), ("max_people", -1)]:  # fmt: skip
        with pytest.raises(SchemaError, match=field):
            decode_meta(msgpack.packb({**meta, field: value}, use_bin_type=True))
