"""The router never turns a dead instance into an error when another can answer: real
backends are stopped, restarted and made to drop connections, with the catalog still
listing them, as it does in the moments between a crash and a failing check."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from controllers.router import Limits, Router
from reconciler.store import Store
from tests.router.backend import Backend
from tests.router.catalog import get, register, targets
from tests.waiting import wait_for


@pytest.fixture
def router(store: Store) -> Iterator[Router]:
    r = Router(store, port=0, admin_port=None, limits=Limits(fail_timeout=0.5))
    r.start()
    yield r
    r.stop()


def test_a_dead_instance_costs_no_request_and_comes_back(store, router) -> None:
    with Backend("a") as a:
        b = Backend("b")
        port_b = b.port
        with b:
            register(store, a, "alloc-a", ["urlprefix-/"], check=None)
            register(store, b, "alloc-b", ["urlprefix-/"], check=None)
            wait_for(lambda: targets(router, "/") == 2)
            conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
            assert {json.loads(get(conn, "/")[1])["backend"] for _ in range(4)} == {"a", "b"}
        # b is gone (connection refused; its pooled connection closed): every request still succeeds
        answers = [get(conn, f"/{i}") for i in range(20)]
        assert [s for s, _ in answers] == [200] * 20
        assert {json.loads(body)["backend"] for _, body in answers} == {"a"}
        assert ("127.0.0.1", port_b) in router.proxy.down
        # b restarts on its port: after fail_timeout it takes traffic again, with no help from the catalog
        with Backend("b", port=port_b):
            wait_for(
                lambda: json.loads(get(conn, "/")[1])["backend"] == "b", message="b back in the rotation"
            )


@pytest.mark.parametrize(("method", "tries"), [("GET", 2), ("DELETE", 2), ("POST", 1), ("PATCH", 1)])
def test_only_idempotent_requests_are_retried(store, router, method, tries) -> None:
    """`/close` closes the connection without an answer on both instances: an idempotent
    request is tried on each, a POST or PATCH (which a backend may have acted on) only once."""
    with Backend("a") as a, Backend("b") as b:
        register(store, a, "alloc-a", ["urlprefix-/"], check=None)
        register(store, b, "alloc-b", ["urlprefix-/"], check=None)
        wait_for(lambda: targets(router, "/") == 2)
        conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
        status, body = get(conn, "/close", method=method)
        assert status == 502, body
        assert b"closed the connection" in body, body
        assert len(a.requests) + len(b.requests) == tries


def test_retries_are_bounded(store) -> None:
    backends = [Backend(str(i)) for i in range(4)]
    for i, be in enumerate(backends):
        be.__enter__()
        register(store, be, f"alloc-{i}", ["urlprefix-/"], check=None)
    r = Router(store, port=0, admin_port=None, limits=Limits(max_tries=2))
    r.start()
    try:
        wait_for(lambda: targets(r, "/") == 4)
        conn = http.client.HTTPConnection("127.0.0.1", r.bound_port, timeout=5)
        status, _body = get(conn, "/close")
        assert status == 502
        assert sum(len(be.requests) for be in backends) == 2
    finally:
        r.stop()
        for be in backends:
            be.__exit__()


def test_no_instance_reachable_is_502_naming_the_tries(store, router) -> None:
    with Backend("gone") as gone:
        register(store, gone, "alloc-x", ["urlprefix-/gone"], check=None)
    with Backend("gone2") as gone2:
        register(store, gone2, "alloc-y", ["urlprefix-/gone"], check=None)
    wait_for(lambda: targets(router, "/gone") == 2)
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
    status, body = get(conn, "/gone", method="POST", body=b"never sent")  # refused: safe to retry even a POST
    assert status == 502, body
    assert b"cannot reach backend" in body, body
    assert b"tried 2" in body, body
