"""`logs?follow=true` holds nothing once nobody listens (review M10): aiohttp does not cancel
a handler whose client hung up, so the follow loop looks every poll; and it ends when the
allocation is collected rather than waiting forever on a status that will never come."""

from __future__ import annotations

import socket

from reconciler.api import logs
from reconciler.store import Store
from tests.api.conftest import seed_cluster
from tests.api.server import ApiServer
from tests.waiting import wait_for


def follow(api: ApiServer, alloc_id: str) -> socket.socket:
    """A follow request on a raw socket, its headers read: the handler is in its loop."""
    sock = socket.create_connection(("127.0.0.1", api.port), timeout=10)
    sock.sendall(
        f"GET /v1/client/fs/logs/{alloc_id}?task=web&follow=true&plain=true HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{api.port}\r\n\r\n".encode()
    )
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    return sock


def test_a_follow_of_a_quiet_task_ends_when_the_client_hangs_up(api: ApiServer, store: Store) -> None:
    seeded = seed_cluster(api, store)  # a running task with no output on this agent
    sock = follow(api, seeded.alloc_id)
    wait_for(lambda: len(logs.FOLLOWING) == 1, message="the follow is being served")
    sock.close()
    wait_for(lambda: not logs.FOLLOWING, message="the follow ended with its client")


def test_a_follow_ends_when_its_allocation_is_collected(api: ApiServer, store: Store) -> None:
    seeded = seed_cluster(api, store)
    sock = follow(api, seeded.alloc_id)
    try:
        wait_for(lambda: len(logs.FOLLOWING) == 1, message="the follow is being served")
        store.delete(store.keys.alloc_status(seeded.alloc_id))
        store.delete(store.keys.alloc(seeded.alloc_id))
        wait_for(lambda: not logs.FOLLOWING, 15, message="the follow ended with its allocation")
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):  # the chunked stream's last chunk
            chunk = sock.recv(65536)
            assert chunk, rest
            rest += chunk
    finally:
        sock.close()
