"""Misbehaving subscribers for the soak (issue 15), each in a process of its own, as another
program on the machine would be: one that connects and never reads, one that connects and
disconnects in a loop. Registered in :data:`posecast.realtime.benchmark.hooks.SOAK_HOOKS`; their
reports go into the soak's JSON under ``soak.hooks[name]``.

The benchmark's own subscriber (:mod:`.receiver`) reads everything beside them: the soak shows
whether it still receives every published frame while these misbehave, and whether the
publisher's memory stays flat through thousands of connections.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import time

from ..schema import TOPIC_META, TOPIC_POSE
from ..stop_signals import helper_process_signals, start_helper_process


def _stalled(address: str, conn, stop) -> None:  # noqa: ANN001 - multiprocessing Connections
    helper_process_signals()
    import zmq

    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.RCVHWM, 4)
    sub.setsockopt(zmq.RCVBUF, 4096)
    sub.setsockopt(zmq.SUBSCRIBE, TOPIC_POSE)
    sub.connect(address)
    stop.poll(None)  # never reads
    left = 0
    while sub.poll(0):  # what piled up: at most its own queues
        sub.recv_multipart()
        left += 1
    sub.close(linger=0)
    _report(conn, {"messages_left_unread": left})


def _cycling(address: str, conn, stop, stay_s: float, patience_s: float) -> None:  # noqa: ANN001 - Connections
    helper_process_signals()
    import zmq

    context = zmq.Context.instance()
    cycles = heard = messages = 0
    while not stop.poll():
        sub = context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, TOPIC_POSE)
        sub.setsockopt(zmq.SUBSCRIBE, TOPIC_META)
        sub.connect(address)
        poller = zmq.Poller()  # woken by the stop too, which waited for the poll (up to patience_s, 5 s)
        poller.register(sub, zmq.POLLIN)
        poller.register(stop, zmq.POLLIN)
        got = 0
        connected_s = time.monotonic()
        # stay_s, or until the first message up to patience_s: on a loaded machine a frame can
        # take longer than stay_s to come, which says nothing about this connection being served
        while (left := connected_s + (stay_s if got else patience_s) - time.monotonic()) > 0 and not stop.poll():
            if sub in dict(poller.poll(int(left * 1000) + 1)):
                sub.recv_multipart()
                got += 1
        sub.close(linger=0)
        cycles += 1
        heard += got > 0
        messages += got
    _report(conn, {"connections": cycles, "connections_that_received": heard, "messages": messages})


def _report(conn, report: dict) -> None:  # noqa: ANN001 - multiprocessing Connection
    with contextlib.suppress(BrokenPipeError):  # a parent killed outright closed ``stop`` too: nobody reads this
        conn.send(report)


class _SubscriberProcess:
    """Runs ``target(address, conn, stop, *args)`` in a fresh process (``spawn``) for the soak, until
    ``stop``, a pipe's end, is readable; ``stop()`` returns the dict it sends back."""

    name = ""
    args: tuple = ()

    def __init__(self) -> None:
        self._process: multiprocessing.process.BaseProcess | None = None

    def _target(self):  # noqa: ANN202 - the process function
        raise NotImplementedError

    def start(self, address: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe(duplex=False)
        stop, self._stop = ctx.Pipe(duplex=False)  # closed to stop it (as the bench's subscriber: receiver.py)
        self._process = ctx.Process(target=self._target(), args=(address.removeprefix("connect:"), child, stop,
                                                                  *self.args), name=self.name, daemon=True)  # fmt: skip
        start_helper_process(self._process)
        child.close()
        stop.close()

    def stop(self, timeout_s: float = 10.0) -> dict:
        if self._process is None:
            return {}
        self._stop.close()
        try:
            report = self._conn.recv() if self._conn.poll(timeout_s) else {"error": "no report"}
        except EOFError:  # it ended without one (SIGTERM to the process group, from `timeout`: EOFError's traceback)
            report = {"error": "no report"}
        self._process.join(timeout_s)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()
        self._process = None
        return report


class StalledSubscriberProcess(_SubscriberProcess):
    """Another process that subscribes and never reads: only it may lose messages."""

    name = "stalled-subscriber-process"

    def _target(self):  # noqa: ANN202
        return _stalled


class CyclingSubscriber(_SubscriberProcess):
    """Another process that connects, listens for ``stay_s`` (0.5 s; up to ``patience_s``, 5 s,
    for its first message), disconnects, again and again: each new subscriber must be served
    (``connections_that_received``), and the publisher must not keep anything per connection
    that has gone."""

    name = "cycling-subscriber"
    args = (0.5, 5.0)

    def _target(self):  # noqa: ANN202
        return _cycling
