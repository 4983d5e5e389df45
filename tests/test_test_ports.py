"""The ports the tests bind (the ``free_port`` fixture): parallel workers must never be given one port."""

from __future__ import annotations

import socket
from collections.abc import Callable

from conftest import PORT_BLOCK, ephemeral_low, port_block


def test_ports_come_from_this_workers_block_outside_the_ephemeral_range(free_port: Callable[..., int]) -> None:
    """Each call gives a port not given just before (a test asks for two before binding either),
    inside this worker's block, which lies below the range the system picks port 0 and outgoing
    connections from (there, another worker's socket could be given the port in between)."""
    block = port_block()
    ports = [free_port(), free_port(socket.SOCK_DGRAM), free_port(), free_port()]
    assert len(set(ports)) == len(ports)
    assert block.stop <= ephemeral_low()
    assert all(port in block for port in ports), ports


def test_a_taken_port_is_passed_over(free_port: Callable[..., int]) -> None:
    """The port next in line, held by another socket, is skipped for one that binds."""
    block = port_block()
    next_in_line = block[(block.index(free_port()) + 1) % PORT_BLOCK]
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", next_in_line))
        holder.listen()
        port = free_port()
        assert port != next_in_line
        with socket.socket() as check:
            check.bind(("127.0.0.1", port))
