"""Malformed and hostile HTTP against the real router over real sockets, with a real
backend that records what reaches it: smuggling attempts never become a second request,
trailers never become headers, hop-by-hop headers stop at the router in both directions,
and every limit answers with its own status."""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator

import httptools
import pytest

from controllers.router import Limits, Router
from reconciler.store import Store
from tests.router.backend import ONCE, Backend
from tests.router.catalog import exchange, register, targets
from tests.waiting import wait_for

LIMITS = Limits(header_timeout=0.5, body_timeout=0.5, response_timeout=0.5, max_body=1000, max_conns=8)


@pytest.fixture
def backend() -> Iterator[Backend]:
    with Backend("a") as a:
        yield a


@pytest.fixture
def router(store: Store, backend: Backend) -> Iterator[Router]:
    register(store, backend, "alloc-a", ["urlprefix-/"], check=None)
    r = Router(store, port=0, admin_port=None, limits=LIMITS)
    r.start()
    wait_for(lambda: targets(r, "/") == 1, message="route to the backend")
    yield r
    r.stop()


def responses(data: bytes) -> list[bytes]:
    """Status lines of the responses in a byte stream, as a client's parser reads them."""
    lines: list[bytes] = []

    class Reader:
        def on_message_begin(self) -> None:
            lines.append(b"")

        def on_headers_complete(self) -> None:
            lines[-1] = b"HTTP/%b %d" % (parser.get_http_version().encode(), parser.get_status_code())

    parser = httptools.HttpResponseParser(Reader())
    parser.feed_data(data)
    return lines


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\nGET /s HTTP/1.1\r\n"
            b"Host: x\r\n\r\n",
            b"400",
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\nHost: x\n\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", b"501"),
        (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 70_000 + b"\r\n\r\n", b"431"),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n",
            b"431",
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000, b"413"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"400\r\n"
            + b"x" * 1024
            + b"\r\n0\r\n\r\n",
            b"413",
        ),
    ],
    ids=[
        "cl-and-te",
        "double-cl",
        "double-same-cl",
        "obs-fold",
        "bare-lf",
        "space-before-colon",
        "te-gzip",
        "long-request-line",
        "huge-header",
        "too-many-headers",
        "cl-body-too-large",
        "chunked-body-too-large",
    ],
)
def test_refused_before_reaching_the_backend(router, backend, request_bytes, status) -> None:
    data = exchange(router.bound_port, request_bytes)
    assert responses(data) == [b"HTTP/1.1 " + status], data
    assert b"Connection: close" in data
    assert backend.requests == []


def test_huge_header_in_many_small_writes(router, backend) -> None:
    parts = [b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "] + [b"v" * 8192] * 12 + [b"\r\n\r\n"]
    data = exchange(router.bound_port, parts)
    assert responses(data) == [b"HTTP/1.1 431"], data
    assert backend.requests == []


def test_pipelined_chunked_body_is_not_a_second_request(router, backend) -> None:
    smuggled = b"GET /admin-only HTTP/1.1\r\nHost: internal\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n"
    body = b"0\r\n\r\n" + smuggled
    data = exchange(
        router.bound_port,
        b"GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /second HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body),
    )
    assert len(responses(data)) == 2, data
    assert [r["path"] for r in backend.requests] == ["/first", "/second"]
    assert backend.requests[1]["body"] == body


def test_trailers_never_become_headers(router, backend) -> None:
    data = exchange(
        router.bound_port,
        b"POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n0\r\nHost: admin.internal\r\nX-Evil: 1\r\n\r\n",
    )
    assert responses(data) == [b"HTTP/1.1 200"], data
    seen = backend.requests[0]
    headers = {k.lower(): v for k, v in seen["headers"].items()}  # type: ignore[union-attr]
    assert seen["body"] == b"abc"
    assert headers["host"] == "x"
    assert headers["x-forwarded-host"] == "x"
    assert "x-evil" not in headers


def test_hop_by_hop_headers_stop_at_the_router(router, backend) -> None:
    data = exchange(
        router.bound_port,
        b"GET /hop HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n"
        b"Keep-Alive: timeout=9\r\nProxy-Authorization: Basic Zm9v\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n",
    )
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 200")
    assert b"x-internal" not in head
    assert b"keep-alive: timeout" not in head
    sent = {k.lower() for k in backend.requests[0]["headers"]}  # type: ignore[union-attr]
    assert {"x-secret", "keep-alive", "proxy-authorization", "te"}.isdisjoint(sent)
    assert "x-kept" in sent


def test_http10_backend_is_answered_in_http11(router, backend) -> None:
    data = exchange(router.bound_port, b"GET /http10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data
    assert data.endswith(b"\r\n\r\nok"), data


def test_http10_client_gets_a_body_it_can_read(router, backend) -> None:
    data = exchange(router.bound_port, b"GET /x/chunked HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200"), data
    assert data.endswith(b"\r\n\r\none-two-a"), data
    assert backend.requests[0]["headers"]["Host"] == "web"  # type: ignore[index]


def test_a_bad_request_is_answered_after_the_good_ones_before_it(router, backend) -> None:
    data = exchange(
        router.bound_port, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost : x\r\n\r\n"
    )
    assert responses(data) == [b"HTTP/1.1 200", b"HTTP/1.1 400"], data
    assert [r["path"] for r in backend.requests] == ["/ok"]


def test_slow_headers_get_408(router, backend) -> None:
    with socket.create_connection(("127.0.0.1", router.bound_port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        data = b""
        while chunk := s.recv(65536):  # the router answers and closes; no more bytes needed
            data += chunk
    assert data.startswith(b"HTTP/1.1 408"), data
    assert backend.requests == []


def test_slow_body_gets_408(router, backend) -> None:
    with socket.create_connection(("127.0.0.1", router.bound_port), timeout=10) as s:
        s.sendall(b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 408"), data


def test_slow_backend_gets_504(router, backend) -> None:
    data = exchange(router.bound_port, b"GET /sleep/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 504"), data
    assert b"did not answer within 0.5s" in data, data


def test_connection_cap_answers_503(router, backend) -> None:
    held = [
        socket.create_connection(("127.0.0.1", router.bound_port), timeout=10)
        for _ in range(LIMITS.max_conns)
    ]
    try:
        wait_for(lambda: len(router.proxy.conns) == LIMITS.max_conns, message="connections accepted")
        data = exchange(router.bound_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 503"), data
        assert b"too many connections" in data, data
    finally:
        for s in held:
            s.close()
    wait_for(lambda: not router.proxy.conns, message="held connections gone")
    data = exchange(router.bound_port, b"GET /again HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["path"] == "/again"


def test_a_second_response_from_the_backend_never_reaches_the_client(router, backend) -> None:
    data = exchange(
        router.bound_port, b"GET /twice HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert b"smuggl" not in data, data


def test_a_repeated_response_is_counted_and_a_longer_one_still_parsed(router, backend) -> None:
    """The same response bytes again on one upstream connection take the fast path
    (`Exchange.repeated`); bytes that only begin like them (a second response appended) are
    parsed, and the extra response is still cut off."""
    with socket.create_connection(("127.0.0.1", router.bound_port), timeout=10) as s:
        for _ in range(4):
            s.sendall(b"GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while len(got) < len(ONCE):
                got += s.recv(65536)
            assert got == ONCE
        # each answer counted (before it was written), the repeated ones too
        assert sum(n for k, n in router.proxy.stats.responses.items() if k[3] == 200) == 4
        s.sendall(b"GET /twice HTTP/1.1\r\nHost: x\r\n\r\n")
        rest = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(65536):
                rest += chunk
    assert b"smuggl" not in rest, rest
    assert rest in (b"", ONCE), rest
    assert backend.connections == 1  # all five on one pooled upstream connection
