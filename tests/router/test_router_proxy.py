"""The router against real etcd and real backends: registrations are written to the
catalog as the registrar would, and requests go through the proxy over loopback."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator

import pytest

from controllers.router import Router
from reconciler.store import Store
from tests.router.backend import ONCE, Backend
from tests.router.catalog import get, register, set_check, targets
from tests.waiting import wait_for


@pytest.fixture
def backends() -> Iterator[tuple[Backend, Backend]]:
    with Backend("a") as a, Backend("b") as b:
        yield a, b


@pytest.fixture
def router(store: Store) -> Iterator[Router]:
    r = Router(store, port=0, admin_port=0)
    r.start()
    yield r
    r.stop()


def test_round_robin_alternates_and_keeps_alive(store, router, backends) -> None:
    a, b = backends
    register(store, a, "alloc-a", ["urlprefix-/web"])
    register(store, b, "alloc-b", ["urlprefix-/web"])
    wait_for(lambda: targets(router) == 2, message="two healthy targets")
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
    seen = []
    for _ in range(6):
        status, body = get(conn, "/web/x")
        assert status == 200
        seen.append(json.loads(body)["backend"])
    sock = conn.sock
    assert sock is not None
    assert sorted(seen[:2]) == ["a", "b"]
    assert all(seen[i] != seen[i + 1] for i in range(5)), seen
    # one client connection, and the proxy reused its upstream connections
    assert conn.sock is sock
    assert a.connections + b.connections <= 2
    conn.close()


def test_failing_check_removes_instance_and_502_when_none(store, router, backends) -> None:
    a, b = backends
    register(store, a, "alloc-a", ["urlprefix-/web"])
    register(store, b, "alloc-b", ["urlprefix-/web"])
    wait_for(lambda: targets(router) == 2, message="two healthy targets")
    set_check(store, "alloc-b", "web-health", "critical")
    wait_for(lambda: targets(router) == 1, message="b removed")
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
    assert {json.loads(get(conn, "/web")[1])["backend"] for _ in range(4)} == {"a"}
    set_check(store, "alloc-a", "web-health", "warning")
    wait_for(lambda: targets(router) == 0, message="no healthy target")
    status, body = get(conn, "/web")
    assert status == 503
    assert b"no healthy instance of service 'web'" in body
    # the connection survives a 502, and recovers when a check passes again
    set_check(store, "alloc-b", "web-health", "passing")
    wait_for(lambda: targets(router) == 1, message="b back")
    assert json.loads(get(conn, "/web")[1])["backend"] == "b"
    # a deregistered service: no route at all
    store.delete_prefix(store.keys.services)
    wait_for(lambda: targets(router) == -1, message="route gone")
    status, body = get(conn, "/web")
    assert status == 404
    assert b"no route for" in body


def test_strip_host_routes_and_forwarded_headers(store, router, backends) -> None:
    a, b = backends
    register(store, a, "alloc-a", ["urlprefix-/api strip=/api"], name="api", check=None)
    register(store, b, "alloc-b", ["urlprefix-shop.example/"], name="shop", check=None)
    wait_for(lambda: targets(router, "/api") == 1 and router.table.lookup("shop.example", "/") is not None)
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
    status, body = get(conn, "/api/users?x=1", headers={"X-Forwarded-For": "10.0.0.9"})
    data = json.loads(body)
    assert status == 200
    assert data["backend"] == "a"
    assert data["path"] == "/users?x=1"
    assert data["xff"] == "10.0.0.9, 127.0.0.1"
    assert data["xfproto"] == "http"
    assert data["xfhost"] == f"127.0.0.1:{router.bound_port}"
    status, body = get(conn, "/anything", headers={"Host": "shop.example"})
    assert status == 200
    assert json.loads(body)["backend"] == "b"
    assert get(conn, "/anything")[0] == 404  # no generic route


def test_real_ip_and_forwarded_are_the_routers(store, router, backends) -> None:
    """`X-Real-Ip` and `Forwarded` name the client's address as Fabio sets them; ones a
    client sends are replaced, never passed (review L4), on a plain route and on one with
    options; a quote in the Host cannot end Forwarded's `host` early and add a `for`."""
    a, b = backends
    register(store, a, "alloc-a", ["urlprefix-/plain"], name="plain", check=None)
    register(store, b, "alloc-b", ["urlprefix-/opt strip=/opt"], name="opt", check=None)
    wait_for(lambda: targets(router, "/plain") == 1 and targets(router, "/opt") == 1)
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
    spoof = {"X-Real-IP": "6.6.6.6", "Forwarded": "for=6.6.6.6;proto=https"}
    host = f"127.0.0.1:{router.bound_port}"
    for path in ("/plain/x", "/opt/x"):
        status, body = get(conn, path, headers=spoof)
        assert status == 200
        headers = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
        assert headers["x-real-ip"] == "127.0.0.1", path
        assert headers["forwarded"] == f'for=127.0.0.1; proto=http; host="{host}"', path
        assert "6.6.6.6" not in body.decode(), path
    status, body = get(conn, "/opt/x", headers={"Host": 'h"; for=6.6.6.6; x="'})
    assert status == 200
    headers = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    assert headers["forwarded"] == 'for=127.0.0.1; proto=http; host="h\\"; for=6.6.6.6; x=\\""'


def test_a_repeated_request_follows_the_table(store, router, backends) -> None:
    """The same request bytes again on one connection take the fast path (`repeated.repeat`),
    which must not outlive the table it was planned in: a route that moves to another
    instance, then gains an option (`strip=`), is what the next identical request meets."""
    a, b = backends
    register(store, a, "alloc-a", ["urlprefix-/rep"], name="rep", check=None)
    wait_for(lambda: targets(router, "/rep") == 1)
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
    for _ in range(3):
        status, body = get(conn, "/rep/x?q=1")
        assert status == 200
        assert json.loads(body)["backend"] == "a"
    store.delete_prefix(store.keys.services)
    register(store, b, "alloc-b", ["urlprefix-/rep"], name="rep", check=None)
    wait_for(lambda: (r := router.table.lookup("", "/rep")) is not None and r.targets[0].port == b.port)
    for _ in range(3):
        assert json.loads(get(conn, "/rep/x?q=1")[1])["backend"] == "b"
    register(store, b, "alloc-b", ["urlprefix-/rep strip=/rep"], name="rep", check=None)
    wait_for(lambda: (r := router.table.lookup("", "/rep")) is not None and r.strip == "/rep")
    for _ in range(3):
        data = json.loads(get(conn, "/rep/x?q=1")[1])
        assert (data["backend"], data["path"]) == ("b", "/x?q=1")
    conn.close()


def test_repeated_requests_alternate_and_are_counted(store, router, backends) -> None:
    """Identical requests answered identically (`/once`: no Date) take both halves of the fast
    path (`repeated.repeat` picks, checks out and sends inline; `FastPlan.repeated_fast`
    counts and releases inline): they still alternate between the instances on the pooled
    connections, and every response is in the counters and the latency histogram."""
    a, b = backends
    register(store, a, "alloc-a", ["urlprefix-/fast"], name="fast", check=None)
    register(store, b, "alloc-b", ["urlprefix-/fast"], name="fast", check=None)
    wait_for(lambda: targets(router, "/fast") == 2)
    with socket.create_connection(("127.0.0.1", router.bound_port), timeout=10) as s:
        for _ in range(10):
            s.sendall(b"GET /fast/once HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while len(got) < len(ONCE):
                got += s.recv(65536)
            assert got == ONCE
            assert abs(len(a.requests) - len(b.requests)) <= 1, (len(a.requests), len(b.requests))
    assert len(a.requests) == len(b.requests) == 5
    assert a.connections == b.connections == 1
    stats = router.proxy.stats
    assert stats.responses[("", "/fast", "fast", 200)] == 10
    assert sum(stats.latency[("", "/fast", "fast")][:-1]) == 10


def test_bodies_pass_through(store, router, backends) -> None:
    a, _ = backends
    register(store, a, "alloc-a", ["urlprefix-/"], check=None)
    wait_for(lambda: targets(router, "/") == 1)
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
    big = b"x" * 300_000
    status, body = get(conn, "/post", method="POST", body=big, headers={"Content-Type": "text/plain"})
    assert status == 200
    assert json.loads(body)["body"] == big.decode()

    def chunks() -> Iterator[bytes]:
        yield b"hello "
        yield b"chunked "
        yield b"world"

    conn.request(
        "POST", "/chunky", body=chunks(), encode_chunked=True, headers={"Transfer-Encoding": "chunked"}
    )
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read())["body"] == "hello chunked world"
    status, body = get(conn, "/stream/chunked")
    assert status == 200
    assert body == b"one-two-a"
    conn.request("HEAD", "/head")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.read() == b""
    assert get(conn, "/after-head")[0] == 200  # keep-alive intact after a body-less response
    assert a.connections == 1


def test_admin_routes_lists_table(store, router, backends) -> None:
    a, _ = backends
    register(store, a, "alloc-a", ["urlprefix-/web"])
    wait_for(lambda: targets(router) == 1)
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_admin_port, timeout=5)
    status, body = get(conn, "/routes")
    assert status == 200
    assert json.loads(body) == [
        {
            "host": "",
            "path": "/web",
            "service": "web",
            "strip": "",
            "proto": "http",
            "targets": [f"127.0.0.1:{a.port}"],
        }
    ]


def test_backend_down_is_502(store, router) -> None:
    with Backend("gone") as gone:
        register(store, gone, "alloc-x", ["urlprefix-/gone"], check=None)
    wait_for(lambda: targets(router, "/gone") == 1)
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
    status, body = get(conn, "/gone")
    assert status == 502
    assert b"cannot reach backend" in body


def test_pipelined_requests_answered_in_order(store, router, backends) -> None:
    import socket

    a, b = backends
    register(store, a, "alloc-a", ["urlprefix-/"], check=None)
    register(store, b, "alloc-b", ["urlprefix-/"], check=None)
    wait_for(lambda: targets(router, "/") == 2)
    with socket.create_connection(("127.0.0.1", router.bound_port), timeout=5) as s:
        s.sendall(
            b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    paths = [json.loads(part.split(b"\r\n\r\n", 1)[1])["path"] for part in data.split(b"HTTP/1.1 200")[1:]]
    assert data.count(b"HTTP/1.") == 3, data
    assert paths == ["/one", "/two", "/three"]


def test_expect_100_continue(store, router, backends) -> None:
    import socket

    a, _ = backends
    register(store, a, "alloc-a", ["urlprefix-/"], check=None)
    wait_for(lambda: targets(router, "/") == 1)
    with socket.create_connection(("127.0.0.1", router.bound_port), timeout=5) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = s.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100"), interim
        s.sendall(b"hello")
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            data += s.recv(65536)
        assert data.startswith(b"HTTP/1.1 200"), data
        assert json.loads(data.split(b"\r\n\r\n", 1)[1])["body"] == "hello"
        # and the connection carries on
        s.sendall(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        more = b""
        while not more.rstrip().endswith(b"}"):
            more += s.recv(65536)
        assert json.loads(more.split(b"\r\n\r\n", 1)[1])["path"] == "/next"


def test_random_strategy_uses_every_instance(store, backends) -> None:
    a, b = backends
    register(store, a, "alloc-a", ["urlprefix-/"], check=None)
    register(store, b, "alloc-b", ["urlprefix-/"], check=None)
    with pytest.raises(ValueError, match="unknown strategy"):
        Router(store, strategy="wrr")
    r = Router(store, port=0, admin_port=None, strategy="rnd")
    r.start()
    try:
        wait_for(lambda: targets(r, "/") == 2)
        conn = http.client.HTTPConnection("127.0.0.1", r.bound_port, timeout=5)
        seen = {json.loads(get(conn, "/")[1])["backend"] for _ in range(64)}  # all one: p = 2^-63
        assert seen == {"a", "b"}
    finally:
        r.stop()


def test_https_upstream(store, router, tmp_path) -> None:
    import ssl
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    with Backend("tls", tls=ctx) as tls:
        register(
            store,
            tls,
            "alloc-s",
            ["urlprefix-/secure proto=https tlsskipverify=true"],
            name="secure",
            check=None,
        )
        register(store, tls, "alloc-v", ["urlprefix-/verified proto=https"], name="verified", check=None)
        wait_for(lambda: targets(router, "/secure") == 1 and targets(router, "/verified") == 1)
        conn = http.client.HTTPConnection("127.0.0.1", router.bound_port, timeout=5)
        status, body = get(conn, "/secure/x")
        assert status == 200
        assert json.loads(body)["backend"] == "tls"
        assert get(conn, "/secure/y")[0] == 200
        # a self-signed certificate fails verification unless the route says to skip it
        status, body = get(conn, "/verified")
        assert status == 502
        assert b"cannot reach backend" in body


def test_idle_connections_are_closed(store, backends) -> None:
    import socket

    a, _ = backends
    register(store, a, "alloc-a", ["urlprefix-/"], check=None)
    r = Router(store, port=0, admin_port=None, client_idle_timeout=0.3, upstream_idle_timeout=0.3)
    r.start()
    try:
        wait_for(lambda: targets(r, "/") == 1)
        with socket.create_connection(("127.0.0.1", r.bound_port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.rstrip().endswith(b"}"):
                data += s.recv(65536)
            assert data.startswith(b"HTTP/1.1 200")
            wait_for(
                lambda: not r.proxy.pools[("127.0.0.1", a.port, "http", False)].idle,
                timeout=5,
                message="pooled upstream connection closed when idle",
            )
            s.settimeout(5)
            assert s.recv(65536) == b""  # the router closed the quiet client connection
    finally:
        r.stop()


def test_error_while_a_large_body_is_arriving(store, router) -> None:
    """A 502 for a request whose body is still coming closes the connection rather than
    leaving the client waiting on a paused read."""
    import socket

    with Backend("gone") as gone:
        register(store, gone, "alloc-x", ["urlprefix-/gone"], check=None)
    wait_for(lambda: targets(router, "/gone") == 1)
    with socket.create_connection(("127.0.0.1", router.bound_port), timeout=10) as s:
        s.sendall(b"POST /gone HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n" + b"x" * 2_000_000)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 502")
    assert b"Connection: close" in data


def test_admin_page_and_health(store, router, backends) -> None:
    a, _ = backends
    register(store, a, "alloc-a", ["urlprefix-/web<b>"])
    wait_for(lambda: targets(router, "/web<b>") == 1)
    conn = http.client.HTTPConnection("127.0.0.1", router.bound_admin_port, timeout=5)
    status, body = get(conn, "/")
    assert status == 200
    assert f"127.0.0.1:{a.port}".encode() in body
    assert b"/web&lt;b&gt;" in body
    assert b"<b>" not in body
    assert get(conn, "/health") == (200, b"OK\n")
    assert get(conn, "/nothing")[0] == 404
