"""Companions of a soak (``posecast bench --soak MINUTES --soak-hook NAME``): things that run
beside the pipeline for the soak's length and report on it, e.g. subscribers that misbehave.

A hook is any object with ``name``, ``start(address)`` and ``stop() -> dict`` (see
:class:`~posecast.realtime.benchmark.runner.SoakHook`); its dict goes into the report under
``soak.hooks[name]``. To add one: a class here (or anywhere) and one line in :data:`SOAK_HOOKS`.
"""

from __future__ import annotations

from collections.abc import Callable

import zmq

from ..schema import TOPIC_POSE
from .subscribers import CyclingSubscriber, StalledSubscriberProcess


class StalledSubscriber:
    """A subscriber that connects and never reads: its queue fills and the publisher must drop
    for it alone (the benchmark's own subscriber must keep receiving every frame)."""

    name = "stalled-subscriber"

    def __init__(self) -> None:
        self._socket: zmq.Socket | None = None

    def start(self, address: str) -> None:
        self._socket = zmq.Context.instance().socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, 4)
        self._socket.setsockopt(zmq.RCVBUF, 4096)
        self._socket.setsockopt(zmq.SUBSCRIBE, TOPIC_POSE)
        self._socket.connect(address.removeprefix("connect:"))

    def stop(self) -> dict:
        waiting = 0
        if self._socket is not None:
            while self._socket.poll(0):  # what it let pile up: at most its queue
                self._socket.recv_multipart()
                waiting += 1
            self._socket.close(linger=0)
            self._socket = None
        return {"messages_left_unread": waiting}


#: name → factory of every soak companion ``--soak-hook`` offers.
SOAK_HOOKS: dict[str, Callable[[], object]] = {
    StalledSubscriber.name: StalledSubscriber,
    StalledSubscriberProcess.name: StalledSubscriberProcess,
    CyclingSubscriber.name: CyclingSubscriber,
}
