"""Ports for the servers a test starts: below the kernel's ephemeral range, and a slice of
that of their own for each pytest-xdist worker.

A port asked of the OS (bind to port 0, then close) comes from the ephemeral range, the same
range every outgoing connection takes its source port from. Between the test closing it and
its server (etcd, an agent, a backend) binding it, a connection of this or the other worker
can take it, and the server fails with EADDRINUSE: seen with two workers. No connection is
given a port below the ephemeral range, each worker hands out only ports of its own slice,
and none twice in one process.
"""

from __future__ import annotations

import itertools
import os
import random
import socket
import threading
from collections.abc import Iterator

LOWEST = 10_000


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _worker_slice() -> range:
    """This process's ports: its share of [LOWEST, the ephemeral range's start)."""
    top = _ephemeral_start()
    name = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... under xdist
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    index = int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0
    size = (top - LOWEST) // max(count, 1)
    return range(LOWEST + index * size, LOWEST + (index + 1) * size)


def _candidates(ports: range) -> Iterator[int]:
    start = random.randrange(len(ports))  # two runs side by side by hand rarely overlap
    return itertools.cycle(itertools.chain(ports[start:], ports[:start]))


_lock = threading.Lock()
_slice = _worker_slice()
_next = _candidates(_slice)


def _bindable(port: int, host: str) -> bool:
    with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
        try:
            tcp.bind((host, port))
            udp.bind((host, port))  # the DNS server takes its port for UDP
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, for a server about to be started."""
    with _lock:
        for _ in range(len(_slice)):
            port = next(_next)
            if _bindable(port, host):
                return port
    raise OSError(f"no port of {_slice.start}-{_slice.stop - 1} can be bound on {host}")
