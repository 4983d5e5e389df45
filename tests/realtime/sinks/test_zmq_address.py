"""Publishing addresses (issue 15.4, 15.10): a port outside 1..65535 is refused (ZeroMQ bound some
other port instead), and binding anything but loopback warns that the pose stream is open to the
network. Real sockets, random ports."""

from __future__ import annotations

import logging

import pytest
from posecast.realtime.errors import PublishError
from posecast.realtime.sinks.zmq import Publisher, PublisherOptions

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
