"""The ports the tests bind (the ``free_port`` fixture): parallel workers must never be given one port."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest


def test_ports_come_from_this_workers_block_outside_the_ephemeral_range(
    free_port: Callable[..., int], port_block: range
) -> None:
    """Each call gives a port not given just before (a test asks for two before binding either),
    inside this worker's block, which lies below the range the system picks port 0 and outgoing
    connections from (there, another worker's socket could be given the port in between)."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if not ephemeral.exists():
        pytest.skip("not Linux: the ephemeral range is unknown, so any free port is taken")
    assert port_block.stop <= int(ephemeral.read_text().split()[0])
    ports = [free_port(), free_port(socket.SOCK_DGRAM), free_port(), free_port()]
    assert len(set(ports)) == len(ports)
    assert all(port in port_block for port in ports), ports


def test_a_taken_port_is_passed_over(free_port: Callable[..., int], port_block: range) -> None:
    """The port next in line, held by another socket, is skipped for one that binds."""
    if not Path("/proc/sys/net/ipv4/ip_local_port_range").exists():
        pytest.skip("not Linux: any free port is taken")
    next_in_line = port_block[(port_block.index(free_port()) + 1) % len(port_block)]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", next_in_line))
        holder.listen()
        port = free_port()
        assert port != next_in_line
        with socket.socket() as check:
            check.bind(("127.0.0.1", port))
