"""Publishing addresses (issue 15.4, 15.10): a port outside 1..65535 is refused (ZeroMQ bound some
other port instead), and binding anything but loopback warns that the pose stream is open to the
network. Real sockets, random ports."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest
from posecast.realtime.errors import PublishError
from posecast.realtime.schema import MetaMessage
from posecast.realtime.sinks.zmq import Publisher, PublisherOptions
from posecast.realtime.subscriber import Subscriber

EXPOSED = "the pose stream is open to the network"


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:99999", "tcp://127.0.0.1:65536", "connect:tcp://127.0.0.1:70000"])
def test_port_out_of_range_is_refused(address: str) -> None:
    with pytest.raises(PublishError, match=r"port \d+ of tcp://127\.0\.0\.1:\d+ is outside 1\.\.65535"):
        Publisher(PublisherOptions(address=address))


@pytest.mark.parametrize(
    ("address", "exposed"),
    [
        ("tcp://0.0.0.0:0", True),
        ("tcp://*:0", True),
        ("tcp://127.0.0.1:0", False),
        ("tcp://localhost:0", False),
        ("tcp://127.0.0.2:0", False),  # all of 127/8 is loopback
        ("tcp://lo:0", False),  # the loopback interface by name binds 127.0.0.1 (QA: it was said to be open)
        ("tcp://[::ffff:127.0.0.1]:0", False),  # 127.0.0.1 written as IPv6 (QA: said to be open)
        ("ipc:///tmp/posecast-test-{port}.sock", False),
    ],
)
def test_binding_beyond_loopback_warns(address: str, exposed: bool, caplog, tmp_path) -> None:
    address = address.replace("/tmp/posecast-test-{port}.sock", str(tmp_path / "pose.sock"))
    with caplog.at_level(logging.WARNING, logger="posecast.realtime.sinks.zmq"):
        publisher = Publisher(PublisherOptions(address=address))
        publisher.close()
    warnings = [r.getMessage() for r in caplog.records if EXPOSED in r.getMessage()]
    assert len(warnings) == (1 if exposed else 0), warnings
    if exposed:
        assert publisher.address.split(":")[-1] in warnings[0]  # names the port it bound
        assert "bind tcp://127.0.0.1:PORT" in warnings[0]


@pytest.mark.parametrize(("address", "warned"), [("connect:tcp://192.0.2.99:5999", True),
                                                ("connect:tcp://127.0.0.1:5999", False),
                                                # connecting to the unspecified address reaches this machine
                                                ("connect:tcp://0.0.0.0:5999", False),
                                                ("connect:tcp://[::]:5999", False),
                                                ("connect:tcp://127.0.0.1;192.0.2.99:5999", True)])  # fmt: skip
def test_connecting_beyond_loopback_warns(address: str, warned: bool, caplog) -> None:
    """QA: ``connect:`` to another machine said nothing, where the README says any address but
    loopback warns: the stream leaves the machine unencrypted."""
    with caplog.at_level(logging.WARNING, logger="posecast.realtime.sinks.zmq"):
        Publisher(PublisherOptions(address=address)).close()
    leaves = [r.getMessage() for r in caplog.records if "the pose stream leaves this machine" in r.getMessage()]
    assert len(leaves) == (1 if warned else 0), leaves


def test_connecting_to_a_bad_port_does_not_offer_port_0() -> None:
    with pytest.raises(PublishError) as refused:
        Publisher(PublisherOptions(address="connect:tcp://127.0.0.1:99999"))
    assert "port 0" not in str(refused.value)


def test_an_ipc_path_in_use_is_refused_and_a_stale_one_replaced(tmp_path) -> None:
    """A second publisher on the same ipc:// path used to take the first one's subscribers
    silently (ZeroMQ removes the socket file and binds anew); a file that is not a socket would
    have been deleted. A socket file nobody accepts on (its process killed) is replaced, and a
    publisher removes its own file when it closes."""
    path = tmp_path / "pose.sock"
    first = Publisher(PublisherOptions(address=f"ipc://{path}"))
    with pytest.raises(PublishError, match=rf"address ipc://{path} is in use \(another posecast is bound there\)"):
        Publisher(PublisherOptions(address=f"ipc://{path}"))
    with Subscriber(f"ipc://{path}") as subscriber:  # the first publisher still serves its subscribers
        for _ in range(50):  # the meta comes once the publisher has seen the subscription
            first.meta_if_due()
            if isinstance(message := subscriber.recv(timeout_s=0.1), MetaMessage):
                break
        assert isinstance(message, MetaMessage)
    first.close()
    assert not path.exists()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # bound, never listening: what a killed process leaves
    Publisher(PublisherOptions(address=f"ipc://{path}")).close()
    stale.close()
    other = tmp_path / "notes.txt"
    other.write_text("mine")
    with pytest.raises(PublishError, match="exists and is not a socket: pass another ipc:// path"):
        Publisher(PublisherOptions(address=f"ipc://{other}"))
    assert other.read_text() == "mine"
    with pytest.raises(PublishError, match="'ipc://' has no path: expected ipc://PATH"):
        Publisher(PublisherOptions(address="ipc://"))


def test_two_publishers_binding_one_ipc_path_at_once_cannot_both_succeed(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Concurrency QA: two runs binding one ipc:// path at once could both find it free; the second
    took the first one's place and its subscribers, without a word (17 of 200 thread pairs). The
    check is slowed here so that the two always overlap: the path is held from check to bind."""
    from posecast.realtime import endpoints

    def slow_check(endpoint: str, check=endpoints.check_ipc_free) -> None:  # noqa: ANN001
        check(endpoint)
        time.sleep(0.2)

    monkeypatch.setattr(endpoints, "check_ipc_free", slow_check)
    path = tmp_path / "pose.sock"
    barrier, outcomes = threading.Barrier(2), []

    def bind() -> None:
        barrier.wait()
        try:
            outcomes.append(Publisher(PublisherOptions(address=f"ipc://{path}")))
        except PublishError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=bind) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bound = [outcome for outcome in outcomes if isinstance(outcome, Publisher)]
    assert len(bound) == 1, outcomes
    assert "is in use (another posecast is bound there)" in next(o for o in outcomes if isinstance(o, str))
    bound[0].close()
    assert not path.exists()


def test_a_publisher_removes_only_its_own_socket_file(tmp_path) -> None:
    """Run A's socket file deleted by someone and the path bound by run B: A's exit used to
    delete B's file, leaving B unreachable."""
    path = tmp_path / "pose.sock"
    first = Publisher(PublisherOptions(address=f"ipc://{path}"))
    path.unlink()
    second = Publisher(PublisherOptions(address=f"ipc://{path}"))
    first.close()
    assert path.exists()
    second.close()
    assert not path.exists()


def test_a_bound_listener_is_refused_like_a_publisher_and_removes_its_file(tmp_path) -> None:
    """``posecast listen --address bind:ipc://PATH`` twice: the second is refused (ZeroMQ took the
    first one's place silently); the file goes when the listener closes."""
    path = tmp_path / "listen.sock"
    with Subscriber(f"bind:ipc://{path}"):
        with pytest.raises(PublishError, match="is in use"):
            Subscriber(f"bind:ipc://{path}")
        assert path.exists()
    assert not path.exists()


def test_an_abstract_ipc_address_is_refused_off_linux(monkeypatch) -> None:  # noqa: ANN001
    """Review for macOS: ``ipc://@name`` is Linux's abstract namespace; elsewhere ZeroMQ makes a file
    named "@name" in the current folder, which the in-use check and the clean-up skipped."""
    from posecast.realtime.endpoints import check_ipc_free

    check_ipc_free("ipc://@posecast-test")  # Linux: no file, nothing to check
    monkeypatch.setattr("sys.platform", "darwin")
    with pytest.raises(PublishError, match=r"ipc://@NAME \(Linux's abstract sockets\) is Linux's alone"):
        check_ipc_free("ipc://@posecast-test")


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ("tcp://::1:5999", r"an IPv6 address goes in brackets before the port, e\.g\. tcp://\[::1\]:5555"),
        ("tcp://[::1:5999", r"an IPv6 address goes in brackets before the port"),
        ("tcp://::1]:5999", r"an IPv6 address goes in brackets before the port"),
        ("tcp://:5999", r"address tcp://:5999 names no host: expected tcp://HOST:PORT"),
        ("127.0.0.1:5999", r"address '127\.0\.0\.1:5999' names no transport: expected tcp://HOST:PORT or ipc://PATH"),
        (" tcp://127.0.0.1:5999", r"has spaces around it: remove them"),
        ("ipc:///tmp/" + "a" * 110 + ".sock", r"ipc:// path /tmp/a+\.sock is 120 bytes long, over the system's 10\d"),
    ],
)
def test_an_address_zeromq_would_wait_on_or_refuse_in_its_own_words_is_one_line(endpoint: str, message: str) -> None:
    """Network QA: ``tcp://::1:PORT`` (IPv6 without brackets) and ``tcp://:PORT`` left a listener
    and the viewer waiting for ever without a word, and a publisher said "No such device"; no
    transport, a leading space and an over-long ipc:// path were ZeroMQ's "Invalid argument" or
    pyzmq's advice to programmers, with a TCP example as the fix."""
    with pytest.raises(PublishError, match=message):
        Subscriber(endpoint)
    with pytest.raises(PublishError, match=message):
        Publisher(PublisherOptions(address=endpoint))


def test_binding_in_a_missing_folder_and_a_zero_port_written_otherwise_are_named(tmp_path) -> None:
    """Network QA: an ipc:// path in a folder that does not exist, and port ``00``, were ZeroMQ's
    "No such file or directory" / "Invalid argument" with a TCP example as the fix."""
    with pytest.raises(PublishError, match=r"cannot bind ipc://.*/missing/pose\.sock: the folder .*/missing does not "
                                           r"exist; make it or pass a path in a folder that does"):  # fmt: skip
        Publisher(PublisherOptions(address=f"ipc://{tmp_path / 'missing' / 'pose.sock'}"))
    with pytest.raises(PublishError, match=r"port 00 of tcp://127\.0\.0\.1:00: write any free port as 0 \(or \*\)"):
        Publisher(PublisherOptions(address="tcp://127.0.0.1:00"))
    with Subscriber(f"ipc://{tmp_path / 'missing' / 'pose.sock'}"):  # connecting: the publisher may make it later
        pass
