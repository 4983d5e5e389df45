"""The Python ``Subscriber`` as a developer embedding posecast meets it: arguments of the wrong
kind are named plainly, a closed subscriber says so, a topic that merely starts like ``pose`` is
skipped (ZeroMQ subscriptions match prefixes), a taken ``bind:`` address says what to do, and a
payload that is not msgpack gets a readable reason. Real PUB/SUB sockets on loopback."""

from __future__ import annotations

import logging
import re
import time

import msgpack
import numpy as np
import pytest
import zmq
from posecast.engines.errors import PosecastError
from posecast.realtime.errors import SchemaError
from posecast.realtime.schema import PoseMessage, decode_pose, encode_pose_message
from posecast.realtime.subscriber import Subscriber


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"address": 5555}, TypeError, "address must be a string such as 'tcp://"),
        ({"address": b"tcp://127.0.0.1:5555"}, TypeError, "address must be a string"),
        ({"topics": b"pose"}, TypeError, r"topics must be a tuple of bytes such as \(b'pose',\), got b'pose'"),
        ({"topics": ("pose",)}, TypeError, "topics must be a tuple of bytes"),
        ({"receive_hwm": "16"}, ValueError, "receive_hwm must be a whole number"),
        ({"receive_hwm": -1}, ValueError, "receive_hwm must be a whole number of messages, 0 or more"),
    ],
)
def test_arguments_of_the_wrong_kind_are_named(kwargs: dict, error: type, match: str, free_port) -> None:  # noqa: ANN001
    kwargs.setdefault("address", f"tcp://127.0.0.1:{free_port()}")
    with pytest.raises(error, match=match):
        Subscriber(**kwargs)


def test_a_closed_subscriber_says_so_and_a_bad_timeout_is_named(free_port) -> None:  # noqa: ANN001
    subscriber = Subscriber(f"tcp://127.0.0.1:{free_port()}")
    with pytest.raises(TypeError, match="timeout_s must be a number of seconds or None, got nan"):
        subscriber.recv(float("nan"))
    with pytest.raises(TypeError, match="got '1'"):
        subscriber.recv("1")  # type: ignore[arg-type]
    subscriber.close()
    subscriber.close()  # twice is fine
    with pytest.raises(PosecastError, match=r"this Subscriber of tcp://127\.0\.0\.1:\d+ is closed: make a new one"):
        subscriber.recv(0.1)


@pytest.mark.parametrize("topics", [(b"pose", b"meta"), (b"",), (b"po",)])
def test_a_topic_that_only_starts_like_pose_is_skipped(topics: tuple[bytes, ...], free_port) -> None:  # noqa: ANN001
    """Subscriptions are prefixes: (b"",), every topic, as ZeroMQ's usual subscription, still gets poses."""
    address = f"tcp://127.0.0.1:{free_port()}"
    publisher = zmq.Context.instance().socket(zmq.PUB)
    publisher.setsockopt(zmq.LINGER, 0)
    publisher.bind(address)
    try:
        with Subscriber(address, topics=topics) as subscriber:
            joints = np.zeros((17, 3), np.float32) + np.float32([0, 0, 3])
            payload = encode_pose_message(PoseMessage(frame_id=3, capture_ns=1, tracking="tracking", joints_m=joints,
                                                      confidence=np.ones(17, np.float32), root_m=joints[0].copy(),
                                                      publish_ns=2, publish_unix_ns=3))  # fmt: skip
            got = None
            deadline = time.monotonic() + 10
            while got is None and time.monotonic() < deadline:  # until the subscription has reached the PUB
                publisher.send_multipart([b"pose2", b"not a posecast payload"])
                publisher.send_multipart([b"pose", payload])
                got = subscriber.recv(0.2)
            assert isinstance(got, PoseMessage) and got.frame_id == 3
    finally:
        publisher.close()


def test_a_taken_bind_address_says_to_pass_another_port(free_port) -> None:  # noqa: ANN001
    address = f"bind:tcp://127.0.0.1:{free_port()}"
    taken = pytest.raises(PosecastError, match="another program uses that address.*pass another port")
    with Subscriber(address), taken:
        Subscriber(address)


@pytest.mark.parametrize("payload", [b"", b"\xc1"])
def test_a_payload_that_is_not_msgpack_gets_a_reason(payload: bytes) -> None:
    with pytest.raises(SchemaError, match=r"payload is not msgpack \(\w[^)]*\): expected a posecast message"):
        decode_pose(payload)


def test_recv_all_takes_everything_waiting_so_a_slow_reader_can_keep_the_newest(free_port) -> None:  # noqa: ANN001
    """One message per drawn frame reads ever older poses once the stream is faster than the
    drawing (a QA reader fell 161 s behind); ``recv_all`` hands over what waits, in order."""
    address = f"tcp://127.0.0.1:{free_port()}"
    publisher = zmq.Context.instance().socket(zmq.PUB)
    publisher.setsockopt(zmq.LINGER, 0)
    publisher.bind(address)
    joints = np.zeros((17, 3), np.float32) + np.float32([0, 0, 3])

    def pose(frame_id: int) -> list[bytes]:
        return [b"pose", encode_pose_message(PoseMessage(
            frame_id=frame_id, capture_ns=1, tracking="tracking", joints_m=joints, confidence=np.ones(17, np.float32),
            root_m=joints[0].copy(), publish_ns=2, publish_unix_ns=3))]  # fmt: skip

    try:
        with Subscriber(address) as subscriber:
            assert subscriber.recv_all() == []  # nothing waits, and it does not wait
            deadline = time.monotonic() + 10
            while not subscriber.recv_all(0.2) and time.monotonic() < deadline:  # the subscription is through
                publisher.send_multipart(pose(0))
            for frame_id in range(1, 11):
                publisher.send_multipart(pose(frame_id))
            time.sleep(0.5)
            got = subscriber.recv_all(5.0)
            assert [m.frame_id for m in got] == list(range(1, 11))
            assert subscriber.recv_all() == []
            start = time.monotonic()
            assert subscriber.recv_all(0.3) == [] and time.monotonic() - start >= 0.29  # waited for a first one
            for frame_id in (11, 12):
                publisher.send_multipart(pose(frame_id))
            publisher.send_multipart([b"pose", b"\xc1"])  # off the schema, after two good ones
            publisher.send_multipart(pose(13))
            time.sleep(0.5)
            assert [m.frame_id for m in subscriber.recv_all(5.0, max_messages=1)] == [11]  # capped
            assert [m.frame_id for m in subscriber.recv_all(5.0)] == [12]  # the good one is not lost ...
            with pytest.raises(SchemaError):
                subscriber.recv(0.0)  # ... and the bad one is said next, by recv as by recv_all
            assert [m.frame_id for m in subscriber.recv_all(5.0)] == [13]
    finally:
        publisher.close()


def test_a_peer_sending_a_message_over_the_limit_is_dropped() -> None:
    """QA: no reader set a size limit, so three 1.5 GB junk messages took a viewer to 6 GB before
    they were refused as not msgpack. A message over MAX_MESSAGE_BYTES never arrives: ZeroMQ drops
    its sender (without the limit it arrived whole, and was refused as not msgpack)."""
    from posecast.realtime.schema import MAX_MESSAGE_BYTES, TOPIC_META, MetaMessage
    from posecast.realtime.sinks.zmq import Publisher, PublisherOptions

    publisher = Publisher(PublisherOptions(address="tcp://127.0.0.1:0"))

    def heard_meta(subscriber: Subscriber) -> bool:
        for _ in range(100):
            publisher.meta_if_due()
            if isinstance(subscriber.recv(timeout_s=0.1), MetaMessage):
                return True
        return False

    try:
        with Subscriber(publisher.address) as subscriber:
            assert heard_meta(subscriber)
            publisher._socket.send_multipart([TOPIC_META, b"\x00" * (MAX_MESSAGE_BYTES + 1)])
            assert subscriber.recv(timeout_s=0.5) is None
    finally:
        publisher.close()


def test_recv_arguments_are_checked() -> None:
    """QA: ``recv(timeout_s=True)`` was taken as one second; ``recv_all(max_messages=0)`` returned
    a message and ``"3"`` failed on a comparison."""
    with Subscriber("tcp://127.0.0.1:5999") as subscriber:
        with pytest.raises(TypeError, match="timeout_s must be a number of seconds or None, got True"):
            subscriber.recv(timeout_s=True)
        for bad in (0, -5, "3", True):
            with pytest.raises(TypeError, match="max_messages must be a whole number, 1 or more"):
                subscriber.recv_all(max_messages=bad)


def _pose_payload(frame_id: int, person_id: int = 0) -> bytes:
    joints = np.zeros((17, 3), np.float32) + np.float32([0, 0, 3])
    return encode_pose_message(PoseMessage(frame_id=frame_id, capture_ns=1, tracking="tracking", joints_m=joints,
                                           confidence=np.ones(17, np.float32), root_m=joints[0].copy(),
                                           publish_ns=2, publish_unix_ns=3, person_id=person_id))  # fmt: skip


def _joined(publisher: zmq.Socket, subscriber: Subscriber) -> None:
    """Frame 5 sent until the subscription has reached the PUB, and read."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        publisher.send_multipart([b"pose", _pose_payload(5)])
        if subscriber.recv(0.2) is not None:
            return
    raise AssertionError("the subscription never reached the publisher")


def test_run_index_counts_the_publishers_runs(free_port) -> None:  # noqa: ANN001
    """A publisher started again counts ``frame_id`` from 0 (docs/protocol.md, "A new run"):
    ``run_index`` is one more from that pose on, so a reader keeping state per person knows its
    people are new (left undone before: only ``posecast listen`` said it)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    publisher = zmq.Context.instance().socket(zmq.PUB)
    publisher.setsockopt(zmq.LINGER, 0)
    publisher.bind(address)
    payload = _pose_payload
    try:
        with Subscriber(address) as subscriber:
            _joined(publisher, subscriber)
            assert subscriber.run_index == 0
            for frame_id in (6, 7, 0, 1, 3, 0):
                publisher.send_multipart([b"pose", payload(frame_id)])
            seen = []
            while len(seen) < 6:
                message = subscriber.recv(5.0)
                assert message is not None
                if message.frame_id != 5:  # a probe still on its way
                    seen.append((message.frame_id, subscriber.run_index))
            assert seen == [(6, 0), (7, 0), (0, 1), (1, 1), (3, 1), (0, 2)]
    finally:
        publisher.close()


def test_a_recv_all_batch_holds_one_run(free_port) -> None:  # noqa: ANN001
    """Review: a batch across a restart ended with the new run's pose, ``run_index`` already one
    more, and the old run's person 1 kept as the newest pose of an id the new run lacks. The new
    run's first pose ends the batch and opens the next one."""
    address = f"tcp://127.0.0.1:{free_port()}"
    publisher = zmq.Context.instance().socket(zmq.PUB)
    publisher.setsockopt(zmq.LINGER, 0)
    publisher.bind(address)
    try:
        with Subscriber(address) as subscriber:
            _joined(publisher, subscriber)
            for frame_id, person_id in ((8, 0), (8, 1), (0, 0), (1, 0)):
                publisher.send_multipart([b"pose", _pose_payload(frame_id, person_id)])
            time.sleep(0.3)  # all four waiting
            run_of = {(8, 0): 0, (8, 1): 0, (0, 0): 1, (1, 0): 1}
            batches, received = [], []
            while len(received) < 4:
                batch = [(m.frame_id, m.person_id) for m in subscriber.recv_all(5.0) if m.frame_id != 5]  # (probes)
                received += batch
                batches.append((batch, subscriber.run_index))
            assert received == list(run_of), batches
            # however the messages arrived (all at once, here), no batch holds two runs, and run_index
            # after each is its run's
            for batch, run_index in batches:
                assert {run_of[m] for m in batch} <= {run_index}, batches
            assert len(batches) >= 2, batches
    finally:
        publisher.close()


def test_one_thread_receives_and_a_close_from_another_ends_its_wait(free_port) -> None:  # noqa: ANN001
    """API QA: two threads receiving at once on one Subscriber aborted the process inside libzmq (3
    runs of 4), and a close from another thread during a recv gave a raw ZMQError. The second thread
    is told to make its own (threads taking turns are fine); a close ends the receiver's wait with
    None, then recv says closed."""
    import threading

    subscriber = Subscriber(f"tcp://127.0.0.1:{free_port()}")
    waited: list[object] = []
    receiver = threading.Thread(target=lambda: waited.append(subscriber.recv(timeout_s=None)))
    receiver.start()
    time.sleep(0.3)
    with pytest.raises(PosecastError, match="is receiving on another thread now: ZeroMQ sockets are not thread-safe; "
                                            "make a Subscriber for each thread"):  # fmt: skip
        subscriber.recv(timeout_s=0.1)
    began = time.monotonic()
    subscriber.close()
    receiver.join(timeout=5)
    assert not receiver.is_alive() and waited == [None] and time.monotonic() - began < 2.0
    with pytest.raises(PosecastError, match="is closed: make a new one"):
        subscriber.recv(timeout_s=0.1)


def test_a_close_from_a_signal_handler_during_the_wait_ends_it(free_port) -> None:  # noqa: ANN001
    """Review: the receiving thread's own close (a SIGTERM handler that ran during ``recv``) waited
    for that very wait to end, for ever. The wait ends with None and the socket is closed."""
    import signal

    subscriber = Subscriber(f"bind:tcp://127.0.0.1:{free_port()}")
    previous = signal.signal(signal.SIGALRM, lambda *_: subscriber.close())
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        began = time.monotonic()
        assert subscriber.recv(timeout_s=10) is None
        assert time.monotonic() - began < 2.0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert subscriber._socket.closed
    with pytest.raises(PosecastError, match="is closed"):
        subscriber.recv(timeout_s=0.1)


def test_a_reader_bound_where_other_machines_reach_it_says_so(caplog: pytest.LogCaptureFixture) -> None:
    """Security QA: ``listen --address bind:tcp://0.0.0.0:PORT`` bound silently (a publisher's exposed
    bind is said): anyone on the network could feed it messages."""
    with caplog.at_level(logging.WARNING):
        Subscriber("bind:tcp://127.0.0.1:0").close()
        assert "anyone who can reach this machine" not in caplog.text
        reader = Subscriber("bind:tcp://0.0.0.0:0")
        reader.close()
    assert re.search(r"listening on tcp://0\.0\.0\.0:\d+: anyone who can reach this machine on that port can send "
                     r"this reader messages", caplog.text), caplog.text  # fmt: skip


def test_one_meta_goes_out_where_a_change_and_a_subscription_coincide() -> None:
    """A subscriber connected before the run got two identical metas at its first frame (issue
    QA, on ``posecast run`` too): the first for the change (the frame's size and rate), the
    second for its subscription, noticed only after the first had reached it. The real pipeline,
    the ZeroMQ output and a subscriber socket; the 2D and 3D stages are fakes."""
    from posecast.realtime.pipeline import Pipeline
    from posecast.realtime.schema import TOPIC_META
    from posecast.realtime.sinks.zmq import PublisherOptions, ZmqSink
    from posecast.realtime.types import Frame
    from test_stages import FakeDetector, FakeLifting

    sink = ZmqSink(PublisherOptions(address="tcp://127.0.0.1:0", meta_interval_s=600.0))  # (no repeat within the test)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(sink.address)
    try:
        for _ in range(100):  # subscribed once a meta arrives (the slow-joiner loop, bounded)
            sink.publisher.send_meta()
            if sub.poll(50):
                break
        while sub.poll(200):
            sub.recv_multipart()
        with Pipeline(FakeDetector({}), FakeLifting(), [sink]) as pipeline:
            image = np.zeros((48, 64, 3), np.uint8)
            for i in range(3):
                pipeline.process(Frame(i, time.monotonic_ns(), image, 30.0))
            metas = []
            while sub.poll(500):
                topic, payload = sub.recv_multipart()
                if topic == TOPIC_META:
                    meta = msgpack.unpackb(payload)
                    metas.append({k: v for k, v in meta.items() if k not in ("publish_ns", "publish_unix_ns")})
    finally:
        sub.close()
    assert [meta["source_fps"] for meta in metas] == [0.0, 30.0]  # the opening one, the first frame's
