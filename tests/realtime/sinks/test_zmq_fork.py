"""A publisher made before ``os.fork()`` in the child: its ``close()`` returns (review: the lock
held by the parent's keep-alive thread at the fork was held for good in the child, about 1 fork in
2,000), leaves the parent's socket and ``ipc://`` file alone, and it refuses to publish. Real
ZeroMQ sockets, real forks; a child that hangs is killed after 2 s."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from posecast.realtime.errors import PublishError
from posecast.realtime.schema import MetaMessage
from posecast.realtime.sinks.zmq import Publisher, PublisherOptions
from posecast.realtime.subscriber import Subscriber

CHILD_LIMIT_S = 2.0
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork here")


def _close_in_child(publisher: Publisher) -> int:
    """The child's part: 0 when close() returned and the publisher is closed and refuses to send."""
    try:
        publisher.close()
        if not publisher.closed:
            return 1
        try:
            publisher.send_pose(b"{}")
        except PublishError:
            return 0
        return 2
    except BaseException:  # noqa: BLE001 (any failure is the child's exit status, never pytest's)
        return 3


def _fork_and_close(publisher: Publisher) -> int | None:
    """The child's exit status, or None when it had not ended within CHILD_LIMIT_S (then killed)."""
    pid = os.fork()
    if pid == 0:
        os._exit(_close_in_child(publisher))  # (never returns into pytest)
    deadline = time.monotonic() + CHILD_LIMIT_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def _hears_meta(publisher: Publisher, address: str) -> bool:
    with Subscriber(address) as subscriber:
        for _ in range(50):  # the meta comes once the publisher has seen the subscription
            publisher.meta_if_due()
            if isinstance(subscriber.recv(timeout_s=0.1), MetaMessage):
                return True
    return False


@pytest.mark.parametrize(
    "held",
    [lambda p: p._lock, lambda p: p._stop_keep_alive._cond],
    ids=["socket lock", "keep-alive stop event"],
)
def test_a_forked_childs_close_returns_while_another_thread_held_the_lock(
    held: Callable[[Publisher], Any],
) -> None:
    """What the keep-alive thread holds for ~50 us every 0.1 s is held here for the whole fork."""
    with Publisher(PublisherOptions(address="tcp://127.0.0.1:0")) as publisher:
        taken, release = threading.Event(), threading.Event()

        def hold() -> None:
            with held(publisher):
                taken.set()
                release.wait(10.0)

        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        assert taken.wait(2.0)
        try:
            status = _fork_and_close(publisher)
        finally:
            release.set()
            holder.join(2.0)
        assert status == 0, "the child's close() hung" if status is None else f"child exit {status}"
        assert not publisher.closed
        assert _hears_meta(publisher, publisher.address)  # the parent's socket still serves


def test_a_forked_childs_close_leaves_the_parents_socket_file(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "pose.sock"
    with Publisher(PublisherOptions(address=f"ipc://{path}")) as publisher:
        assert _fork_and_close(publisher) == 0
        assert path.exists()
        assert _hears_meta(publisher, f"ipc://{path}")
    assert not path.exists()  # the parent's close() still removes it
