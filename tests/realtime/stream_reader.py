"""Reading a posecast stream on a thread of its own while a test drives the publisher."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from posecast.realtime.schema import PoseMessage
from posecast.realtime.subscriber import Subscriber


@contextlib.contextmanager
def poses_received(subscriber: Subscriber) -> Iterator[dict[int, PoseMessage]]:
    """While inside: the pose messages ``subscriber`` receives, by frame id, read on a thread of
    their own."""
    received: dict[int, PoseMessage] = {}
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            message = subscriber.recv(timeout_s=0.1)
            if isinstance(message, PoseMessage):
                received[message.frame_id] = message

    reader = threading.Thread(target=read)
    reader.start()
    try:
        yield received
    finally:
        done.set()
        reader.join()
