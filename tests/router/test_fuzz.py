"""Fuzzing the router's HTTP/1.1 framing with raw request bytes (request lines, headers,
Content-Length and Transfer-Encoding in every combination, chunked bodies) against the real
router and a real backend. Every input gets a valid HTTP answer or a close, never a
request the client did not send, and the router serves a good request afterwards.
Budget and counts: tests/fuzzing.py."""

from __future__ import annotations

import contextlib
import itertools
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httptools
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.router import Limits, Router
from reconciler.store import Store
from tests.fuzzing import fuzz_settings, tried
from tests.router.backend import Backend
from tests.router.catalog import exchange, register, targets
from tests.waiting import wait_for

LIMITS = Limits(header_timeout=0.5, body_timeout=0.5, response_timeout=2.0, max_body=1000, max_conns=64)
EXAMPLES = 100
# a whole request hidden in a body: it must never reach the backend as a request of its own
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
# sent after every input: the next request on the connection, which ends it
SENTINEL = b"GET /sentinel HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
FRAMING = {"content-length", "transfer-encoding"}

METHODS = [
    "GET",
    "POST",
    "PUT",
    "HEAD",
    "OPTIONS",
    "DELETE",
    "PATCH",
    "CONNECT",
    "TRACE",
    "PRI",
    "get",
    "G T",
]
GOOD_METHODS = ["GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS"]
TARGETS = ["/f", "/f?a=1&b", "*", "http://x/f", "//f", "/f#x", "/%00", "/%zz", "f", "/../f", "", "/f\x7f"]
VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/0.9", "HTTP/2.0", "HTTP/1.2", "http/1.1", "HTTP/1.1 ", "", "HTTP/1"]
NAMES = [
    "Host", "Content-Length", "Transfer-Encoding", "Connection", "Expect", "Upgrade", "TE",
    "Trailer", "Keep-Alive", "Content-Type", "X-Forwarded-For", "Proxy-Connection",
    "content-length", "Transfer-Encoding ", " Host", "X-A", "",
]  # fmt: skip
VALUES = [
    "x", "0", "5", "-1", "+5", "5 ", "0x5", "1e3", "99999999999999999999", "chunked", "gzip, chunked",
    "chunked, gzip", "Chunked", " chunked", "chunked\x00", "identity", "close", "keep-alive",
    "keep-alive, Upgrade", "100-continue", "websocket", "h2c", "trailers", "", "\xff",
]  # fmt: skip
SEPARATORS = [": ", ":", " : ", ":\t", ": \x00"]
EOLS = ["\r\n"] * 6 + ["\n", "\r"]


@dataclass(frozen=True)
class Raw:
    data: bytes
    method: str
    framed: bool  # one request, its body framed by exactly one well-formed header
    cuts: tuple[int, ...] = ()  # where the bytes are split into separate writes
    payload: bytes | None = None  # what the backend must see as the body, if it sees the request


def crlf_text(alphabet: str, max_size: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), max_size=max_size)


def chunked(payload: bytes, sizes: list[int], ext: str, trailer: str) -> bytes:
    out, rest = b"", payload
    for n in sizes:
        if not rest:
            break
        part, rest = rest[: n or 1], rest[n or 1 :]
        out += b"%x%b\r\n%b\r\n" % (len(part), ext.encode("latin-1"), part)
    if rest:
        out += b"%x\r\n%b\r\n" % (len(rest), rest)
    return out + b"0\r\n" + trailer.encode("latin-1") + b"\r\n"


@st.composite
def bodies(draw: st.DrawFn) -> tuple[list[tuple[str, str]], bytes, bool, bytes | None]:
    """Framing headers, the body bytes, whether the body is framed well, and the body the
    backend must get when it is framed well and whole."""
    payload = draw(st.one_of(st.binary(max_size=40), st.just(SMUGGLED), st.just(b"0\r\n\r\n" + SMUGGLED)))
    kind = draw(st.sampled_from(["none", "length", "short", "chunked", "bad-chunked", "raw"]))
    if kind == "length":
        return [("Content-Length", str(len(payload)))], payload, True, payload
    if kind == "short":  # fewer bytes than announced: the next request's bytes complete it
        return [("Content-Length", str(len(payload) + 5))], payload, True, None
    if kind == "chunked":
        sizes = draw(st.lists(st.integers(0, 12), max_size=4))
        ext = draw(st.sampled_from(["", ";a=b", ';a="b"', "; a", ";" + "e" * 100]))
        trailer = draw(st.sampled_from(["", "X-T: 1\r\n", "Host: evil\r\n", "Content-Length: 9\r\n"]))
        return [("Transfer-Encoding", "chunked")], chunked(payload, sizes, ext, trailer), True, payload
    if kind == "bad-chunked":
        junk = draw(
            st.sampled_from(["-1\r\n", "fffffffffffffffff\r\n", "5\r\nab\r\n", "0x5\r\n", " 5\r\n", "5\n"])
        )
        return [("Transfer-Encoding", "chunked")], junk.encode() + payload, True, None
    if kind == "raw":
        return [], payload, False, None
    return [], b"", True, b""


def odds(n: int, out_of: int) -> st.SearchStrategy[bool]:
    return st.integers(1, out_of).map(lambda i: i <= n)


@st.composite
def header(draw: st.DrawFn) -> tuple[str, str, str]:
    """Mostly a sane header (the framing ones among them); sometimes a hostile one."""
    if draw(odds(2, 3)):
        return draw(st.sampled_from(NAMES[:12])), ": ", draw(st.sampled_from(VALUES))
    names = st.one_of(st.sampled_from(NAMES), crlf_text("Xa-:\t \r\n", 8))
    values = st.one_of(st.sampled_from(VALUES), crlf_text("ab ,;\t\r\n\x00", 8))
    return draw(names), draw(st.sampled_from(SEPARATORS)), draw(values)


@st.composite
def raw_requests(draw: st.DrawFn) -> Raw:
    if draw(odds(3, 4)):  # mostly a well-formed request line, so that framing gets fuzzed too
        method, target, version = draw(st.sampled_from(GOOD_METHODS)), "/f", "HTTP/1.1"
    else:
        method = draw(st.one_of(st.sampled_from(METHODS), crlf_text("GETPOS \t\r\n", 6)))
        target = draw(st.one_of(st.sampled_from(TARGETS), crlf_text("/f?%#:@ \t\x00\xff", 12)))
        version = draw(st.sampled_from(VERSIONS))
    eol = draw(st.sampled_from(EOLS))
    headers = draw(st.lists(header(), max_size=5))
    framing, body, framed, payload = draw(bodies())
    host = [] if draw(st.integers(0, 5)) == 0 else [("Host", ": ", "x")]
    all_headers = host + headers + [(n, ": ", v) for n, v in framing]
    head = f"{method} {target} {version}{eol}" + "".join(f"{n}{s}{v}{eol}" for n, s, v in all_headers)
    mixed = any(n.strip().lower() in FRAMING for n, _, _ in headers)  # a second framing header
    data = head.encode("latin-1") + eol.encode() + body
    cuts = tuple(sorted(set(draw(st.lists(st.integers(1, len(data)), max_size=3)))))
    return Raw(data, method, framed and not mixed, cuts, payload if framed and not mixed else None)


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


STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*\r\n")


def statuses(data: bytes, method: str) -> list[int]:
    """The statuses of the responses in `data`, read by a client's parser (which fails on
    anything that is not HTTP). A HEAD's answer has no body to frame the next one by."""
    if method.upper() == "HEAD":  # no body frames the next response: count the status lines
        assert not data or STATUS_LINE.match(data), data[:200]
        return [int(code) for code in STATUS_LINE.findall(data)]
    found: list[int] = []

    class Reader:
        def on_headers_complete(self) -> None:
            found.append(parser.get_status_code())

    parser = httptools.HttpResponseParser(Reader())
    parser.feed_data(data)
    return found


def send(port: int, data: bytes, cuts: tuple[int, ...] = ()) -> bytes:
    """Send the bytes, in one write per piece between `cuts`, and read until the router
    closes (a refusal stops it reading, so a write may fail: what it answered is still read)."""
    bounds = [0, *cuts, len(data)]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for start, end in itertools.pairwise(bounds):
                s.sendall(data[start:end])
        out = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := s.recv(65536):
                out += chunk
        return out


@fuzz_settings(EXAMPLES)
@given(raw_requests())
def test_raw_requests_are_answered_or_closed_never_smuggled(
    router: Router, backend: Backend, req: Raw
) -> None:
    seen = len(backend.requests)
    data = send(router.bound_port, req.data + SENTINEL, req.cuts)
    codes = statuses(data, req.method)
    forwarded = [r for r in backend.requests[seen:] if r["path"] != "/sentinel"]
    where = f"{req.data!r} -> {data[:300]!r}, backend saw {[r['path'] for r in forwarded]}"
    assert all(100 <= c <= 599 for c in codes), where
    assert len(forwarded) <= len(codes), f"a request reached the backend unanswered: {where}"
    if req.framed:
        assert len(forwarded) <= 1, f"one request became {len(forwarded)}: {where}"
        assert all(r["path"] != "/smuggled" for r in forwarded), f"a body became a request: {where}"
    if forwarded and req.payload is not None:
        assert forwarded[0]["body"] == req.payload, f"the backend got another body: {where}"
    good = exchange(router.bound_port, b"GET /good HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert statuses(good, "GET") == [200], f"the router stopped serving after {where}"
    tried("router: raw requests", str(codes[0]) if codes else "closed")


@st.composite
def framed_request(draw: st.DrawFn, i: int) -> tuple[bytes, bytes]:
    """A well-formed request to /p<i>, its body framed by Content-Length, chunked or absent."""
    payload = draw(st.one_of(st.binary(max_size=30), st.just(SMUGGLED), st.just(b"0\r\n\r\n" + SMUGGLED)))
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS"]))
    kind = draw(st.sampled_from(["length", "chunked", "none"]))
    head = f"{method} /p{i} HTTP/1.1\r\nHost: x\r\n".encode()
    if kind == "length":
        return head + b"Content-Length: %d\r\n\r\n%b" % (len(payload), payload), payload
    if kind == "chunked":
        sizes = draw(st.lists(st.integers(0, 12), max_size=4))
        body = chunked(payload, sizes, draw(st.sampled_from(["", ";a=b"])), "")
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + body, payload
    return head + b"\r\n", b""


@st.composite
def pipelines(draw: st.DrawFn) -> tuple[list[tuple[bytes, bytes]], tuple[int, ...]]:
    requests = [draw(framed_request(i)) for i in range(draw(st.integers(1, 3)))]
    size = sum(len(r) for r, _ in requests) + len(SENTINEL)
    return requests, tuple(sorted(set(draw(st.lists(st.integers(1, size), max_size=4)))))


@fuzz_settings(EXAMPLES // 3)
@given(pipelines())
def test_pipelined_requests_reach_the_backend_as_sent(
    router: Router, backend: Backend, pipeline: tuple[list[tuple[bytes, bytes]], tuple[int, ...]]
) -> None:
    """Well-framed requests on one connection, whatever their bodies hold and however the
    bytes are split: each is forwarded once, in order, with its own body, and answered."""
    requests, cuts = pipeline
    seen = len(backend.requests)
    data = send(router.bound_port, b"".join(r for r, _ in requests) + SENTINEL, cuts)
    forwarded = backend.requests[seen:]
    where = f"{requests!r} -> {data[:300]!r}"
    assert statuses(data, "GET") == [200] * (len(requests) + 1), where
    assert [r["path"] for r in forwarded] == [f"/p{i}" for i in range(len(requests))] + ["/sentinel"], where
    assert [r["body"] for r in forwarded[:-1]] == [payload for _, payload in requests], where
    tried("router: pipelined requests", f"{len(requests)} requests")
