"""Fuzzing what the router reads from a backend: a raw backend answers every request with
fuzzed bytes (status lines, Content-Length and Transfer-Encoding in every combination,
chunked bodies, a second response, garbage) and the client must get exactly one valid
HTTP answer, never the backend's bytes as a second response, and the router keeps serving.
Budget and counts: tests/fuzzing.py."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import httptools
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from controllers.router import Limits, Router
from reconciler.model.services import ServiceRegistration
from reconciler.store import Store
from tests.fuzzing import fuzz_settings, tried
from tests.router.backend import Backend
from tests.router.catalog import exchange, register, targets
from tests.router.test_fuzz import STATUS_LINE, chunked, statuses
from tests.waiting import wait_for

# never passed over: every input must reach the raw backend (passive health has its own tests)
LIMITS = Limits(header_timeout=0.5, body_timeout=0.5, response_timeout=1.0, max_tries=1, max_fails=1 << 30)
EXAMPLES = 60


class RawBackend:
    """Reads a request's head, answers `response` verbatim, closes: one thread, one port."""

    def __init__(self) -> None:
        self.response = b""
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="raw-backend", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):
                conn.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head and (chunk := conn.recv(65536)):
                    head += chunk
                conn.sendall(self.response)

    def stop(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        self.sock.close()
        self._thread.join(10)


STATUS_LINES = [
    "HTTP/1.1 200 OK", "HTTP/1.0 200 OK", "HTTP/1.1 204 No Content", "HTTP/1.1 304 Not Modified",
    "HTTP/1.1 100 Continue", "HTTP/1.1 101 Switching Protocols", "HTTP/1.1 999 Odd", "HTTP/1.1 099 x",
    "HTTP/2 200", "HTTP/1.1 200", "HTTP/1.1 20 OK", "http/1.1 200 OK", "ICY 200 OK", "",
]  # fmt: skip
HEADERS = [
    "Content-Length: 5", "Content-Length: 0", "Content-Length: -1", "Content-Length: 5, 6",
    "Content-Length: 99999999999999999999", "Transfer-Encoding: chunked", "Transfer-Encoding: gzip",
    "Transfer-Encoding: gzip, chunked", "Connection: close", "Connection: keep-alive", "Upgrade: x",
    "Keep-Alive: timeout=1", "X-A: a\r\n folded", "Set-Cookie: a=b", "X-B : c", "X-C:\x00",
]  # fmt: skip


@st.composite
def responses(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from(["\r\n"] * 5 + ["\n"]))
    head = draw(st.sampled_from(STATUS_LINES)) + eol
    head += "".join(h + eol for h in draw(st.lists(st.sampled_from(HEADERS), max_size=4)))
    payload = draw(st.binary(max_size=20))
    body = draw(
        st.sampled_from(
            [
                payload,
                chunked(payload, [3, 5], "", "") + b"\r\n",
                b"zz\r\n" + payload,
                payload + b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond",
            ]
        )
    )
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=60))
    return (head + eol).encode("latin-1") + body


@pytest.fixture
def backend() -> Iterator[Backend]:
    with Backend("a") as a:
        yield a


@pytest.fixture
def raw() -> Iterator[RawBackend]:
    r = RawBackend()
    yield r
    r.stop()


@pytest.fixture
def router(store: Store, backend: Backend, raw: RawBackend) -> Iterator[Router]:
    register(store, backend, "alloc-a", ["urlprefix-/"], check=None)
    reg = ServiceRegistration(
        id="_nomad-task-alloc-raw-g-raw-http",
        service_name="raw",
        alloc_id="alloc-raw",
        namespace="default",
        job_id="j",
        group="g",
        task="",
        node_id="n1",
        address="127.0.0.1",
        port=raw.port,
        port_label="http",
        tags=["urlprefix-/raw"],
    )
    store.put(store.keys.service("raw", "alloc-raw", "http"), reg)
    r = Router(store, port=0, admin_port=None, limits=LIMITS)
    r.start()
    wait_for(lambda: targets(r, "/") == 1 and targets(r, "/raw") == 1, message="routes to both backends")
    yield r
    r.stop()


def lenient_statuses(data: bytes) -> list[int]:
    """As `statuses`, but a status of 600-999 (which HTTP leaves to private use and a
    proxy passes on, as Fabio does) is counted, not a parse failure."""
    try:
        return statuses(data, "GET")
    except httptools.HttpParserInvalidStatusError:
        return [int(code) for code in STATUS_LINE.findall(data)]


@fuzz_settings(EXAMPLES)
@given(responses())
# found by this test: a 101 to a request without Upgrade went to the client (which then
# believed the protocol switched); a 100 with no final response, and a 204 followed by a
# second response in the same read, ended in a bare close; a status below 100 went out as
# an interim response, its body after it, which the client read as a response of its own
@example(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
@example(b"HTTP/1.1 100 Continue\r\n\r\n")
@example(b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
@example(b"HTTP/1.1 099 x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
def test_a_fuzzed_backend_response_becomes_one_valid_answer(
    router: Router, raw: RawBackend, response: bytes
) -> None:
    raw.response = response
    data = exchange(router.bound_port, b"GET /raw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    where = f"backend sent {response!r}, client got {data[:300]!r}"
    codes = lenient_statuses(data)
    final = [c for c in codes if c >= 200]
    assert len(final) == 1, where
    assert all(100 <= c <= 999 for c in codes), where
    good = exchange(router.bound_port, b"GET /good HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert statuses(good, "GET") == [200], f"the router stopped serving after {where}"
    tried("router: backend responses", str(final[0]))
