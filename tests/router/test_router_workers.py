"""A router with worker processes (`Router(workers=3)`): every process serves the same port
(SO_REUSEPORT) with the table the router process builds, so a change in the catalog reaches
requests whichever process accepts their connection, and stopping the router ends them."""

from __future__ import annotations

import http.client

from controllers.router import Router
from reconciler.store import Store
from tests.router.backend import Backend
from tests.router.catalog import register
from tests.waiting import wait_for


def answers(port: int, path: str, n: int = 30) -> set[int]:
    """Statuses of `n` requests, each on a fresh connection (spread over the processes)."""
    seen = set()
    for _ in range(n):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        seen.add(resp.status)
        conn.close()
    return seen


def test_worker_processes_serve_the_same_table(store: Store) -> None:
    router = Router(store, port=0, admin_port=None, workers=3)
    router.start()
    try:
        assert router.extra is not None
        procs = list(router.extra.procs)
        assert len(procs) == 2
        assert all(p.poll() is None for p in procs)
        assert answers(router.bound_port, "/web") == {404}
        with Backend("a") as a:
            register(store, a, "alloc-a", ["urlprefix-/web"])
            wait_for(lambda: answers(router.bound_port, "/web") == {200}, message="every process routes /web")
    finally:
        router.stop()
    assert all(p.poll() == 0 for p in procs)
