"""A network interface's name given where an address is (``view --host eth0``, ``--publish
tcp://eth0:PORT``, a subscriber's ``bind:tcp://eth0:PORT``) is served on its IPv4 address; one with
no IPv4 address (down, or IPv6 alone) was said to be a host name that does not resolve, or in
ZeroMQ's "No such device". Now one line says it has no IPv4 address and what to pass instead.
Real sockets; the interfaces are this machine's, asked of ``ip`` (iproute2), not of posecast."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable

import pytest
from posecast.engines.errors import PosecastError
from posecast.realtime import endpoints
from posecast.realtime.cli import main
from posecast.realtime.errors import PublishError
from posecast.realtime.sinks.zmq import Publisher, PublisherOptions
from posecast.realtime.subscriber import Subscriber
from posecast.realtime.viewer.server import ViewerOptions, ViewerServer

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="interfaces' addresses are asked of Linux")


def _ip(*args: str) -> str:
    if shutil.which("ip") is None:
        pytest.skip("ip (iproute2) is not installed: it says which interfaces have which addresses")
    return subprocess.run(["ip", "-o", *args], capture_output=True, text=True, check=True).stdout


def _refusals(name: str, port: int, capsys: pytest.CaptureFixture) -> list[str]:
    """What ``view --host NAME``, ``--publish tcp://NAME:PORT`` and a subscriber's bind say."""
    assert main(["view", "--host", name, "--port", "0"]) == 2
    said = [capsys.readouterr().err.strip()]
    with pytest.raises(PublishError) as publishing:
        Publisher(PublisherOptions(address=f"tcp://{name}:{port}"))
    with pytest.raises(PosecastError) as listening:
        Subscriber(f"bind:tcp://{name}:{port}")
    return [*said, str(publishing.value), str(listening.value)]


def test_an_interface_of_this_machine_without_ipv4_is_said_as_such(
    capsys: pytest.CaptureFixture, free_port: Callable[[], int]
) -> None:
    """Such as a down ``ifb0``, or an interface with IPv6 alone, where this machine has one."""
    with_ipv4 = set(re.findall(r"^\d+: (\S+)\s+inet ", _ip("-4", "addr", "show"), re.MULTILINE))
    without = [name for _, name in socket.if_nameindex() if name not in with_ipv4]
    if not without:
        pytest.skip(f"every interface of this machine has an IPv4 address: {sorted(with_ipv4)}")
    name = without[0]
    ipv6 = re.findall(r"inet6 ([0-9a-f:]+)/", _ip("-6", "addr", "show", "dev", name, "scope", "global"))
    port = free_port()
    said = _refusals(name, port, capsys)
    assert said[0].startswith(f"posecast: error: cannot serve the viewer on {name}: the network interface {name} "
                              "has no IPv4 address") and "\n" not in said[0], said  # fmt: skip
    assert all(f"the network interface {name} has no IPv4 address" in text for text in said[1:]), said
    assert all(f"cannot bind tcp://{name}:{port}" in text for text in said[1:]), said
    advice = [f"[{ipv6[0]}]" if ipv6 else "nor a global IPv6 one", "[::]"]
    assert all(all(words in text for words in advice) for text in said), said
    assert "does not resolve" not in " ".join(said) and "Name or service not known" not in " ".join(said)
    assert "No such device" not in " ".join(said), said


def test_an_interface_without_any_address_is_said_as_such_on_any_linux(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, free_port: Callable[[], int]
) -> None:
    """Where every interface has an IPv4 address (a CI machine): a name added to the listing of
    interfaces; the kernel, asked its IPv4 address, answers with an error, as it does for a down
    ``ifb0`` (there "no address", here "no such device"), and ZeroMQ cannot bind it."""
    listed = socket.if_nameindex
    monkeypatch.setattr(endpoints.socket, "if_nameindex", lambda: [*listed(), (9999, "posecast9")])
    port = free_port()
    said = _refusals("posecast9", port, capsys)
    assert all("the network interface posecast9 has no IPv4 address, nor a global IPv6 one (is it down?)" in text
               for text in said), said  # fmt: skip
    assert "--host [::] for every interface" in said[0] and f"tcp://[::]:{port} for every interface" in said[2], said
    assert main(["view", "--host", "posecast8", "--port", "0"]) == 2  # not an interface: as before
    assert "cannot serve the viewer on host 'posecast8' (" in capsys.readouterr().err


def test_the_ipv6_address_an_interface_without_ipv4_is_said_to_have_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    """The address the refusal names for an interface with IPv6 alone, in brackets as the viewer
    takes it: here an interface with a global IPv6 address, its IPv4 one not asked."""
    found = re.findall(r"^\d+: (\S+)\s+inet6 ([0-9a-f:]+)/", _ip("-6", "addr", "show", "scope", "global"), re.M)
    if not found:
        pytest.skip("no interface of this machine has a global IPv6 address")
    name, ipv6 = found[0]
    monkeypatch.setattr(endpoints, "interface_ipv4", lambda _: None)
    said = endpoints.no_ipv4_text(name, "--host [ADDRESS]")
    assert said is not None and f"(IPv6 alone): pass its IPv6 address, --host [{ipv6}]," in said, said
    server = ViewerServer(ViewerOptions(stream="tcp://127.0.0.1:1", host=f"[{ipv6}]", port=0))
    server.start()
    try:
        with urllib.request.urlopen(f"http://[{ipv6}]:{server.port}/", timeout=5) as page:
            assert page.status == 200
    finally:
        server.stop()
