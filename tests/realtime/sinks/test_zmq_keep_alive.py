"""A publisher whose frames come slowly (an image folder or a paced file under 1 fps, a camera
stalled for seconds, a model loading between runs) still repeats its meta every second, so its
readers, which connect again after 3 s without any message, stay connected between frames (QA:
one frame every 5 s made every reader reconnect before each frame). Real ZeroMQ sockets."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import zmq
from posecast.realtime.endpoints import SILENT_RECONNECT_S
from posecast.realtime.schema import MetaMessage, PoseMessage
from posecast.realtime.sinks import zmq as zmq_sink
from posecast.realtime.sinks.zmq import Publisher, PublisherOptions
from posecast.realtime.subscriber import Subscriber
from posecast.realtime.types import StreamMeta
from zmq.utils.monitor import recv_monitor_message

ANY_PORT = "tcp://127.0.0.1:0"
QUIET_S = 4.0  # longer than a reader's SILENT_RECONNECT_S


def _pose(frame_id: int) -> PoseMessage:
    return PoseMessage(frame_id=frame_id, capture_ns=time.monotonic_ns(), tracking="tracking",
                       joints_m=np.zeros((17, 3), np.float32) + np.float32([0, 0, 3]),
                       confidence=np.ones(17, np.float32), root_m=np.float32([0, 0, 3]))  # fmt: skip


def _connections(monitor: zmq.Socket) -> int:
    """The connections the monitored reader made since the last call (its reconnects count too)."""
    made = 0
    while monitor.poll(0):
        made += recv_monitor_message(monitor)["event"] == zmq.EVENT_CONNECTED
    return made


def test_a_quiet_publisher_repeats_its_meta_and_its_reader_stays_connected() -> None:
    assert QUIET_S > SILENT_RECONNECT_S
    with Publisher(PublisherOptions(address=ANY_PORT)) as publisher, Subscriber(publisher.address) as subscriber:
        monitor = subscriber._socket.get_monitor_socket(zmq.EVENT_CONNECTED)
        frame_id = 0
        for _ in range(100):  # poses until the subscription has surely arrived (slow joiner)
            publisher.publish(_pose(frame_id))
            frame_id += 1
            if isinstance(subscriber.recv(timeout_s=0.05), PoseMessage):
                break
        while subscriber.recv(timeout_s=0.0) is not None:  # what the warm-up left queued
            pass
        _connections(monitor)  # the first connection (made before the monitor began, or not)
        heard_s = [time.monotonic()]
        metas = 0
        while heard_s[-1] - heard_s[0] < QUIET_S:  # no frame now: only the keep-alive's metas
            message = subscriber.recv(timeout_s=QUIET_S)
            assert isinstance(message, MetaMessage), f"{message!r} after {time.monotonic() - heard_s[0]:.1f} s"
            metas += 1
            heard_s.append(time.monotonic())
        gaps_s = np.diff(heard_s)
        assert metas >= QUIET_S - 1 and gaps_s.max() < 1.5, gaps_s  # every meta_interval_s (1 s)
        assert _connections(monitor) == 0, "the reader reconnected while the publisher was only slow"
        publisher.publish(_pose(frame_id))
        message = subscriber.recv(timeout_s=2.0)
        while isinstance(message, MetaMessage):
            message = subscriber.recv(timeout_s=2.0)
        assert isinstance(message, PoseMessage) and message.frame_id == frame_id
        assert subscriber.run_index == 0  # the repeated metas are not a new run
        monitor.close(linger=0)


def test_a_reader_joining_a_quiet_publisher_gets_the_meta() -> None:
    """No frame and no ``idle()`` call: the meta answers the subscription within about 0.1 s."""
    publisher = Publisher(PublisherOptions(address=ANY_PORT, meta_interval_s=60.0))
    with publisher, Subscriber(publisher.address) as subscriber:
        assert isinstance(subscriber.recv(timeout_s=3.0), MetaMessage)


def test_the_keep_alive_thread_ends_with_its_publisher() -> None:
    def keep_alives() -> int:
        return sum(thread.name == "posecast-meta" for thread in threading.enumerate())

    before = keep_alives()
    publisher = Publisher(PublisherOptions(address=ANY_PORT))
    assert keep_alives() == before + 1
    publisher.close()
    assert keep_alives() == before
    Publisher(PublisherOptions(address=ANY_PORT))  # dropped unclosed: collected, and its thread ends
    gc.collect()
    deadline = time.monotonic() + 2.0
    while keep_alives() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert keep_alives() == before


def test_a_meta_replaced_goes_out_whole_while_the_keep_alive_sends(monkeypatch) -> None:  # noqa: ANN001
    """The sink built the new meta in the publisher's place in two steps; the keep-alive thread sent
    it between them: the new stream's meta without its ``output_frame`` (review). Here the second
    step takes 0.6 s, and the keep-alive is due every 0.2 s."""
    real_describe = zmq_sink.describe_frame

    def slow_describe(frame: str) -> dict:
        time.sleep(0.6)
        return real_describe(frame)

    options = PublisherOptions(address=ANY_PORT, meta_interval_s=0.2)
    with zmq_sink.ZmqSink(options, "unity") as sink, Subscriber(sink.address) as subscriber:
        while not isinstance(subscriber.recv(timeout_s=2.0), MetaMessage):  # connected: the first meta
            pass
        monkeypatch.setattr(zmq_sink, "describe_frame", slow_describe)
        sink.update_meta(StreamMeta(source_fps=42.0))
        new_metas, until_s = [], time.monotonic() + 0.5
        while time.monotonic() < until_s:
            message = subscriber.recv(timeout_s=0.1)
            if isinstance(message, MetaMessage) and message.source_fps == 42.0:
                new_metas.append(message)
    assert new_metas and all("output_frame" in m.assumptions for m in new_metas), [m.assumptions for m in new_metas]
