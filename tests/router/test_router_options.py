"""Fabio's route options over real HTTP: redirects, source-address rules, the Host header
the instance sees, path rewriting, and the segment-boundary rule."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator

import pytest

from controllers.router import Router
from reconciler.store import Store
from tests.router.backend import Backend
from tests.router.catalog import get, register, targets
from tests.waiting import wait_for


@pytest.fixture
def router(store: Store) -> Iterator[Router]:
    r = Router(store, port=0, admin_port=0)
    r.start()
    yield r
    r.stop()


def test_route_options(store, router) -> None:
    with Backend("a") as a:
        register(
            store,
            a,
            "alloc-a",
            [
                "urlprefix-/old redirect=308,https://new.example$path",
                "urlprefix-/inside allow=ip:10.0.0.0/8",
                "urlprefix-/open deny=ip:10.0.0.0/8",
                "urlprefix-/blocked deny=ip:127.0.0.0/8",
                "urlprefix-/dst host=dst",
                "urlprefix-/named host=internal.example prepend=/v2",
                "urlprefix-/todo",
            ],
            check=None,
        )
        wait_for(lambda: len(router.table.routes) == 7, message="seven routes")
        conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
        conn.request("GET", "/old/page?q=1")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 308
        assert resp.getheader("Location") == "https://new.example/old/page?q=1"
        status, body = get(conn, "/inside")
        assert status == 403
        assert b"does not admit 127.0.0.1" in body
        assert get(conn, "/open")[0] == 200
        assert get(conn, "/blocked")[0] == 403
        status, body = get(conn, "/dst/x", headers={"Host": "public.example"})
        assert json.loads(body)["headers"]["Host"] == f"127.0.0.1:{a.port}"
        status, body = get(conn, "/named/x", headers={"Host": "public.example"})
        data = json.loads(body)
        assert data["headers"]["Host"] == "internal.example"
        assert data["path"] == "/v2/named/x"
        assert data["xfhost"] == "public.example"
        assert get(conn, "/todo/1")[0] == 200
        status, body = get(conn, "/todos")
        assert status == 404
        assert b"no route for" in body


def test_unknown_option_is_shown_on_the_admin_port(store, router) -> None:
    with Backend("a") as a:
        register(store, a, "alloc-a", ["urlprefix-/a colour=blue"], check=None)
        wait_for(lambda: router.table.routes, message="route")
        conn = http.client.HTTPConnection("127.0.0.1", router.bound_admin_port, timeout=5)
        rows = json.loads(get(conn, "/routes")[1])
        assert rows[0]["errors"] == ["unknown option 'colour=blue'"]


def test_upgrade_passes_through(store, router) -> None:
    import socket

    with Backend("a") as a:
        register(store, a, "alloc-a", ["urlprefix-/"], check=None)
        wait_for(lambda: router.table.routes, message="route")
        with socket.create_connection(("127.0.0.1", router.bound_port), timeout=5) as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello")
            data = b""
            while not data.endswith(b"HELLO"):
                data += s.recv(65536)
            head = data.split(b"\r\n\r\n", 1)[0]
            assert head.startswith(b"HTTP/1.1 101"), data
            assert b"Upgrade: echo" in head, data
            s.sendall(b"more bytes")
            more = b""
            while len(more) < 10:
                more += s.recv(65536)
            assert more == b"MORE BYTES"
        # a backend that does not switch answers normally, and the connection ends there
        status, _ = get(
            http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5),
            "/plain",
            headers={"Connection": "Upgrade", "Upgrade": "other"},
        )
        assert status == 200


def test_tcp_route_on_its_own_listener(store, router) -> None:
    import socket
    import socketserver
    import threading

    from tests.ports import free_port

    class Echo(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(65536):
                self.request.sendall(b"tcp:" + data)

    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with Backend("placeholder") as be:
            be.port = srv.server_address[1]
            listen = free_port()
            register(store, be, "alloc-t", [f"urlprefix-:{listen} proto=tcp"], name="db", check=None)

            def roundtrip() -> bytes | None:
                try:
                    with socket.create_connection(("127.0.0.1", listen), timeout=5) as s:
                        s.sendall(b"ping")
                        return s.recv(65536)
                except OSError:
                    return None

            assert wait_for(roundtrip, message="tcp route listening") == b"tcp:ping"
            rows = json.loads(
                get(http.client.HTTPConnection("127.0.0.1", router.bound_admin_port, timeout=5), "/routes")[1]
            )
            assert [r["proto"] for r in rows] == ["tcp"]
            assert "errors" not in rows[0]
            store.delete_prefix(store.keys.services)
            wait_for(lambda: roundtrip() is None, message="listener closed with the route")
    finally:
        srv.shutdown()
        srv.server_close()


def test_bad_options_show_in_the_services_check_output_and_leave_with_the_fix(store, router) -> None:
    """A check named "router: route options" under the instance's checks lists the problem
    (passing: it never takes the instance out); fixing the tag removes it."""
    from reconciler.model.services import CheckStatus

    def option_checks() -> list[CheckStatus]:
        rows = store.list(store.keys.checks + "alloc-a/", CheckStatus)[0]
        return [c.value for c in rows if c.value.check_name == "router: route options"]

    with Backend("a") as a:
        register(store, a, "alloc-a", ["urlprefix-/a colour=blue weight=3", "urlprefix-/b"])
        wait_for(lambda: option_checks(), message="the router's route-options check")
        [st] = option_checks()
        assert st.check_id == "web-router-route-options"
        assert st.service_name == "web"
        assert st.status == "passing"
        assert st.output == (
            "route options ignored: 'urlprefix-/a colour=blue weight=3': unknown option 'colour=blue'; "
            "'urlprefix-/a colour=blue weight=3': bad option 'weight=3': a share from 0 to 1"
        )
        assert targets(router, "/a") == 1  # the route still works, without the bad options
        register(store, a, "alloc-a", ["urlprefix-/a", "urlprefix-/b"])
        wait_for(lambda: not option_checks(), message="the check gone once the tag is fixed")
