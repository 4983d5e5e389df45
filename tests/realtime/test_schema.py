"""Wire schema 2: a pose message per person with ``person_id``, schema 1 still readable, and the
ZeroMQ sink on pipeline frames over a real loopback socket."""

from __future__ import annotations

import time

import msgpack
import numpy as np
import pytest
import zmq
from posecast.calibration import CameraIntrinsics
from posecast.realtime.errors import SchemaError
from posecast.realtime.schema import (
    SCHEMA_VERSION,
    TOPIC_META,
    TOPIC_POSE,
    decode_meta,
    decode_pose,
    encode_pose,
    encode_pose_message,
    validate_pose_message,
)
from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink
from posecast.realtime.types import PersonPose, PoseFrame, StreamMeta


def person(person_id: int, x: float = 0.0) -> PersonPose:
    joints = np.random.default_rng(person_id).normal(scale=0.3, size=(17, 3)) + [x, 0.0, 3.0]
    return PersonPose(person_id, "tracking", np.zeros((17, 2), np.float32), np.full(17, 0.8, np.float32),
                      joints, joints - joints[0], joints[0], np.ones(16), 1.0, joints)  # fmt: skip


def frame(frame_id: int, people: list[PersonPose]) -> PoseFrame:
    return PoseFrame(frame_id, 1_000 + frame_id, frame_id * 33_000_000, (640, 480), people,
                     {"keypoints2d": 20_000_000, "lift": 700_000})  # fmt: skip


def test_pose_message_carries_person_id() -> None:
    assert SCHEMA_VERSION == 2
    message = decode_pose(encode_pose(frame(4, [person(3)]), person(3), 5_000, 6_000))
    assert message.person_id == 3 and message.schema_version == 2 and message.frame_id == 4
    np.testing.assert_allclose(message.joints_m, person(3).joints_m, atol=1e-6)
    assert message.latency_ms == pytest.approx({"keypoints2d": 20.0, "lift": 0.7})  # float32 on the wire
    assert (message.publish_ns, message.capture_ns) == (5_000, 1_004)


def test_a_lost_person_is_published_with_zeros() -> None:
    message = decode_pose(encode_pose(frame(4, []), PersonPose.lost(2), 5_000, 6_000))
    assert message.tracking == "lost" and message.person_id == 2
    assert not message.joints_m.any() and not message.confidence.any() and not message.root_m.any()


def test_fields_the_schema_does_not_define_are_kept_and_relayed() -> None:
    """The avatar world's fields reach `posecast listen` and survive a relay (decode, encode)."""
    from posecast.realtime.message_text import to_json

    frame_pose = {"frame": "unity", "units": "m", "joints": [[0.0, 1.0, 0.0]] * 17, "rotations": [[0, 0, 0, 1.0]] * 17}
    extra = {"root_height_m": 0.91, "foot_contact": [True, False], "frame_pose": frame_pose}
    message = decode_pose(encode_pose(frame(4, [person(3)]), person(3), 5_000, 6_000, extra=extra))
    assert message.extra["foot_contact"] == [True, False] and message.extra["frame_pose"]["frame"] == "unity"
    assert message.extra["root_height_m"] == pytest.approx(0.91)  # float32 on the wire
    assert decode_pose(encode_pose_message(message)).extra == message.extra
    shown = to_json(message)
    assert shown["root_height_m"] == 0.91 and shown["foot_contact"] == [True, False] and "extra" not in shown
    # every float shortened alike, latency_ms too (it printed 17.299999237060547: review)
    message.latency_ms, message.source_stalled_s = {"keypoints2d": 17.299999237060547}, 1.2000000476837158
    shown = to_json(message)
    assert shown["latency_ms"] == {"keypoints2d": 17.3} and shown["source_stalled_s"] == 1.2
    assert decode_pose(encode_pose(frame(4, [person(3)]), person(3), 5_000, 6_000)).extra == {}
    raw = msgpack.unpackb(encode_pose(frame(4, [person(3)]), person(3), 5_000, 6_000))
    beyond = decode_pose(msgpack.packb({**raw, "another_publishers_field": 1e300}))  # beyond float32
    assert decode_pose(encode_pose_message(beyond)).extra == {"another_publishers_field": 1e300}


def test_schema_1_messages_are_still_read() -> None:
    raw = msgpack.unpackb(encode_pose(frame(1, [person(0)]), person(0), 5, 6))
    raw["schema_version"] = 1
    del raw["person_id"]
    message = decode_pose(msgpack.packb(raw))
    assert message.schema_version == 1 and message.person_id == 0
    for bad in ("x", None, -1):  # a person_id a schema 1 message carries is checked too (review: the
        # viewer's forwarding stopped for good at int("x"))
        with pytest.raises(SchemaError, match="field 'person_id' must be a non-negative int"):
            decode_pose(msgpack.packb({**raw, "person_id": bad}))
    raw["schema_version"] = 2  # schema 2 without person_id is invalid
    with pytest.raises(SchemaError, match="field 'person_id' must be a non-negative int, got None"):
        validate_pose_message(raw)
    raw.update(schema_version=3, person_id=0)
    with pytest.raises(SchemaError, match="this posecast reads 1 to 2"):
        validate_pose_message(raw)


def test_zmq_sink_publishes_every_person_and_a_heartbeat_when_nobody_is_tracked() -> None:
    sink = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0"))
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(sink.address)
    try:
        intrinsics = CameraIntrinsics.from_hfov(60.0, 640, 480)
        meta = StreamMeta(assumptions={"height_m": 1.7}, intrinsics=intrinsics, source_fps=30.0, max_people=2)
        deadline = time.monotonic() + 5
        got_meta = None
        while got_meta is None and time.monotonic() < deadline:  # the slow joiner: resend until heard
            sink.open(meta)
            if sub.poll(50):
                topic, payload = sub.recv_multipart()
                got_meta = decode_meta(payload) if topic == TOPIC_META else None
        assert got_meta is not None and got_meta.max_people == 2 and got_meta.source_fps == 30.0
        assert got_meta.assumptions == pytest.approx({"height_m": 1.7}) and got_meta.schema_version == 2
        frames = [frame(0, [person(0, -1), person(1, 1)]), frame(1, [person(0, -1), PersonPose.lost(1)]), frame(2, [])]
        poses = []
        for f in frames:
            sink.write(f)
            while sub.poll(200):
                topic, payload = sub.recv_multipart()
                if topic == TOPIC_POSE:
                    poses.append(decode_pose(payload))
                if len(poses) == 5:
                    break
        assert [(p.frame_id, p.person_id, p.tracking) for p in poses] == [
            (0, 0, "tracking"), (0, 1, "tracking"), (1, 0, "tracking"), (1, 1, "lost"),
            (2, 1, "lost"),  # nobody tracked: one lost message with the last id seen
        ]  # fmt: skip
        assert poses[0].root_m[0] < 0 < poses[1].root_m[0]
    finally:
        sub.close()
        sink.close()


@pytest.mark.parametrize(("change", "message"), [
    ({"latency_ms": {"lift": float("nan")}}, "field 'latency_ms' must map stage names to finite milliseconds"),
    ({"latency_ms": {"lift": float("inf")}}, "field 'latency_ms' must map stage names to finite milliseconds"),
    ({"latency_ms": {"lift": True}}, "field 'latency_ms' must map stage names to finite milliseconds"),
    ({"root_height_m": float("nan")}, "field 'root_height_m' must be a finite number of metres"),
    ({"foot_contact": [True]}, r"field 'foot_contact' must be \[left, right\] booleans"),
    ({"foot_contact": [1, 0]}, r"field 'foot_contact' must be \[left, right\] booleans"),
    ({"frame_pose": [1, 2]}, "field 'frame_pose' must be a map"),
    ({"frame_pose": {"frame": "unity", "units": "m", "rotations": [[0, 0, 0, 1]] * 17}},
     "field 'frame_pose.joints' is missing"),
    ({"frame_pose": {"frame": "unity", "units": "m", "joints": [[0, 1, 0]] * 17, "rotations": [[0, 0, 1]] * 17}},
     r"field 'frame_pose.rotations' must have shape \(17, 4\)"),
    ({"frame_pose": {"frame": "unity", "units": "m", "joints": [[0, float("nan"), 0]] * 17,
                     "rotations": [[0, 0, 0, 1]] * 17}}, "field 'frame_pose.joints' must hold finite numbers"),
    ({"frame_pose": {"frame": 3, "units": "m", "joints": [[0, 1, 0]] * 17, "rotations": [[0, 0, 0, 1]] * 17}},
     "field 'frame_pose.frame' must be a string"),
])  # fmt: skip
def test_documented_numbers_are_finite_numbers(change: dict, message: str) -> None:
    """QA: NaN, infinity and a boolean were taken in ``latency_ms`` and the avatar's
    ``root_height_m``, and ``listen --json`` printed ``NaN``, which no JSON parser reads; the
    avatar's ``foot_contact`` and ``frame_pose`` passed unchecked (a NaN joint, a quaternion of 3)."""
    raw = msgpack.unpackb(encode_pose(frame(4, [person(3)]), person(3), 5_000, 6_000))
    with pytest.raises(SchemaError, match=message):
        decode_pose(msgpack.packb({**raw, **change}))


def test_a_meta_names_the_17_joints() -> None:
    """QA: a meta of 3 joint names and parents passed, and ``listen`` said "3 joints"."""
    meta = {"schema_version": 2, "joint_names": ["a", "b", "c"], "parents": [-1, 0, 1], "frame": "camera",
            "units": "m"}  # fmt: skip
    with pytest.raises(SchemaError, match="field 'joint_names' must name the 17 joints, got 3"):
        decode_meta(msgpack.packb(meta))


def test_listen_json_writes_what_json_cannot_hold_as_it_can() -> None:
    """QA: a publisher's field of bytes, a msgpack extension or timestamp (or a bytes key) ended
    ``listen --json`` with a traceback; a NaN came out as ``NaN``. Every line is strict JSON now."""
    import json

    from posecast.realtime.message_text import to_json

    raw = msgpack.unpackb(encode_pose(frame(4, [person(3)]), person(3), 5_000, 6_000))
    extra = {"blob": b"\x01\xff", "ext": msgpack.ExtType(5, b"ab"), "when": msgpack.Timestamp(1, 2),
             "nan": float("nan"), "nested": {b"key": [float("inf"), 1.5]}}  # fmt: skip
    line = json.dumps(to_json(decode_pose(msgpack.packb({**raw, **extra}, use_bin_type=True))), allow_nan=False)
    shown = json.loads(line)
    assert shown["blob"] == "01ff" and shown["nan"] is None and shown["nested"] == {"6b6579": [None, 1.5]}
    assert shown["ext"] == [5, "6162"] and isinstance(shown["when"], str)  # an extension: (code, data)


def test_a_message_nested_past_the_limit_is_refused_without_recursion() -> None:
    """Security QA: a meta whose assumptions nested 600 lists (700 bytes) ended `posecast listen`
    with a RecursionError traceback; 32 levels are allowed (posecast's own messages go 4 deep)."""
    from posecast.realtime.schema import MAX_NESTING, unpack_map

    deep = b"\x81\xa1x" + b"\x91" * 600 + b"\x00"  # {"x": [[[...0...]]]} (msgpack itself refuses 1,000s)
    with pytest.raises(SchemaError, match=f"nests lists and maps more than {MAX_NESTING} deep"):
        unpack_map(deep)
    within = b"\x81\xa1x" + b"\x91" * (MAX_NESTING - 1) + b"\x00"
    assert unpack_map(within)["x"] is not None
    with pytest.raises(SchemaError, match="more than"):
        unpack_map(b"\x81\xa1x" + b"\x91" * MAX_NESTING + b"\x00")
