"""The node can advertise another address for its tasks than the API binds to (review C1:
`--bind` set both): with `--network-interface`, as Nomad's `-network-interface`, the API
stays on 127.0.0.1 while the node's address, where task ports are reached, is the
interface's."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from controllers.driver_runner.fingerprint import interface_address
from tests.agent.harness import AgentProcess


def other_interface() -> tuple[str, str] | None:
    """An interface with an IPv4 address other than loopback, and that address."""
    for _, name in socket.if_nameindex():
        try:
            addr = interface_address(name)
        except ValueError:
            continue
        if not addr.startswith("127."):
            return name, addr
    return None


def test_the_node_advertises_the_interfaces_address_while_the_api_stays_local(tmp_path: Path) -> None:
    found = other_interface()
    if found is None:
        pytest.skip("no network interface with a non-loopback IPv4 address")
    name, addr = found
    a = AgentProcess(tmp_path, extra_args=["--network-interface", name])
    a.start()
    try:
        nodes = a.get("/v1/nodes")
        assert [n["Address"] for n in nodes] == [addr]
        with pytest.raises(ConnectionRefusedError):  # the API is not on the interface's address
            socket.create_connection((addr, a.http_port), timeout=2).close()
    finally:
        a.stop()
