"""The proxy's data path: asyncio protocols, httptools parsers, pooled upstream connections.

Why protocol level and not a web framework: a request costs a few parser callbacks and two
`transport.write` calls here; a framework's request/response objects and a client session
cost ten times that (see ../shared/NOTES.md: 2,800 vs 22,000 requests/s). Bodies stream in
both directions without being held: request bodies are re-framed as they arrive (chunked
stays chunked, Content-Length passes through); responses are forwarded byte for byte while
a response parser watches for the end of the message, which is when the upstream connection
goes back to its pool (if the backend keeps it alive) and the next request of the client's
keep-alive connection may start.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httptools

from controllers.router.table import Route, RouteTable, Target, rewrite_path

log = logging.getLogger(__name__)

HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    b"proxy-authorization", b"proxy-authenticate",
}
# headers that need a look in `start`; every other header is copied as it came
SPECIAL = HOP_BY_HOP | {b"host", b"content-length", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"}
MAX_IDLE_PER_BACKEND = 256
ROUTE_CACHE = 4096
LINGER = 2.0  # seconds a client may take to finish sending a body we answered early
MAX_BUFFERED = 1 << 20  # request bytes held while the upstream connection is being opened


class Pool:
    """Idle keep-alive connections to one backend (most recently used first)."""

    def __init__(self, address: str, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.address = address
        self.port = port
        self.tls = tls
        self.idle: list[Upstream] = []

    def acquire(self) -> Upstream | None:
        while self.idle:
            up = self.idle.pop()
            if not up.closed and up.transport is not None and not up.transport.is_closing():
                return up
        return None

    def release(self, up: Upstream) -> None:
        if up.closed or len(self.idle) >= MAX_IDLE_PER_BACKEND:
            up.close()
        else:
            up.idle_since = time.monotonic()
            self.idle.append(up)

    def discard(self, up: Upstream) -> None:
        if up in self.idle:
            self.idle.remove(up)

    def close(self) -> None:
        for up in self.idle:
            up.close()
        self.idle.clear()


class Upstream(asyncio.Protocol):
    """One connection to a backend; carries one exchange at a time."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.closed = False
        self.reused = False
        self.idle_since = 0.0
        # one response parser per connection, reused message after message (cheaper than
        # one per exchange); replaced after a HEAD response, whose body length it cannot know
        self.parser = httptools.HttpResponseParser(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def on_headers_complete(self) -> None:
        if self.exchange is not None:
            self.exchange.on_headers_complete()

    def on_message_complete(self) -> None:
        if self.exchange is not None:
            self.exchange.on_message_complete()

    def data_received(self, data: bytes) -> None:
        ex = self.exchange
        if ex is None:
            self.close()  # a backend talking out of turn cannot be trusted with the next request
            return
        ex.on_upstream_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.discard(self)
        ex, self.exchange = self.exchange, None
        if ex is not None:
            ex.on_upstream_lost(exc)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.conn.pause_reading()

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.conn.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Exchange:
    """One request and its response, between a client connection and an upstream one."""

    __slots__ = (
        "conn", "url", "headers", "method", "keep_alive", "chunked", "has_body", "buffer", "buffered",
        "request_done", "upstream", "head", "target", "discard", "started", "response_started", "response_done",
        "response_keep_alive", "resp_parser", "retried", "interim",
    )

    def __init__(self, conn: Downstream) -> None:
        self.conn = conn
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.method = b"GET"
        self.keep_alive = True
        self.chunked = False
        self.has_body = False
        self.buffer: list[bytes] = []
        self.buffered = 0
        self.request_done = False
        self.upstream: Upstream | None = None
        self.head = b""
        self.target: Target | None = None
        self.discard = False
        self.started = False
        self.response_started = False
        self.response_done = False
        self.response_keep_alive = False
        self.resp_parser: Any = None
        self.retried = False
        self.interim = False

    # request side ------------------------------------------------------------------------
    def frame(self, body: bytes) -> bytes:
        return b"%x\r\n%b\r\n" % (len(body), body) if self.chunked else body

    def add_body(self, body: bytes) -> None:
        if self.discard:
            return
        framed = self.frame(body)
        if self.upstream is not None:
            self.upstream.write(framed)
        else:
            self.buffer.append(framed)
            self.buffered += len(framed)
            if self.buffered > MAX_BUFFERED:
                self.conn.pause_reading()

    def end_request(self) -> None:
        self.request_done = True
        if self.discard:
            self.conn.finished(self, close_upstream=False)
            return
        if self.chunked:
            if self.upstream is not None:
                self.upstream.write(b"0\r\n\r\n")
            else:
                self.buffer.append(b"0\r\n\r\n")

    def attach(self, up: Upstream) -> None:
        self.upstream = up
        up.exchange = self
        self.resp_parser = up.parser
        data = self.head + b"".join(self.buffer) if self.buffer else self.head
        self.buffer = []
        if self.buffered > MAX_BUFFERED:
            self.conn.resume_reading()
        self.buffered = 0
        up.write(data)

    # response side (parser callbacks and upstream events) --------------------------------
    # (keep-alive is read inside the callbacks: llhttp forgets it once the message is over)
    def on_headers_complete(self) -> None:
        if 100 <= self.resp_parser.get_status_code() < 200:
            self.interim = True  # "100 Continue": forwarded; the real response follows
            return
        if self.method == b"HEAD":
            self.response_keep_alive = self.resp_parser.should_keep_alive()
            self.response_done = True

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        if not self.response_done:
            self.response_keep_alive = self.resp_parser.should_keep_alive()
        self.response_done = True

    def on_upstream_data(self, data: bytes) -> None:
        self.response_started = True
        self.conn.write(data)
        try:
            self.resp_parser.feed_data(data)
        except httptools.HttpParserError as exc:
            log.warning("router upstream=%s:%s bad response: %s", *self._where(), exc)
            self.conn.finished(self, close_upstream=True, close_client=True)
            return
        if self.response_done:
            reuse = self.request_done and self.response_keep_alive
            self.conn.finished(self, close_upstream=not reuse, close_client=not self.request_done)

    def on_upstream_lost(self, exc: Exception | None) -> None:
        if self.response_done:
            return
        if self.response_started:
            # a response framed by the end of the connection (or a backend that died midway):
            # the client must see the end too
            self.conn.finished(self, close_upstream=True, close_client=True)
            return
        if self.upstream is not None and self.upstream.reused and not self.retried and not self.has_body:
            # a pooled connection the backend had closed while idle: try once on a new one
            self.retried = True
            self.upstream = None
            self.conn.server.connect(self)
            return
        self.conn.error(self, 502, f"backend {self._where()[0]}:{self._where()[1]} closed the connection: {exc or 'EOF'}")

    def _where(self) -> tuple[str, int]:
        return (self.target.address, self.target.port) if self.target else ("?", 0)


class Downstream(asyncio.Protocol):
    """A client connection: parses requests, runs them one at a time (pipelined ones wait)."""

    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.cur: Exchange | None = None
        self.active: Exchange | None = None
        self.pending: deque[Exchange] = deque()
        self.client_ip = ""
        self.client_ip_b = b""
        self.closed = False
        self._paused = False
        self.last = 0.0

    # transport events --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if peer else ""
        self.client_ip_b = self.client_ip.encode()
        self.last = time.monotonic()
        self.server.conns.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.error_raw(501, "protocol upgrade is not supported")
        except httptools.HttpParserError as exc:
            self.error_raw(400, f"bad request: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.conns.discard(self)
        ex, self.active = self.active, None
        if ex is not None and ex.upstream is not None:
            up, ex.upstream = ex.upstream, None
            up.exchange = None
            up.close()
        self.pending.clear()

    def pause_writing(self) -> None:
        if self.active is not None and self.active.upstream is not None and self.active.upstream.transport:
            self.active.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.active is not None and self.active.upstream is not None and self.active.upstream.transport:
            self.active.upstream.transport.resume_reading()

    def pause_reading(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    # parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.last = time.monotonic()
        self.cur = Exchange(self)

    def on_url(self, url: bytes) -> None:
        assert self.cur is not None
        self.cur.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.cur is not None
        self.cur.headers.append((name, value))

    def on_headers_complete(self) -> None:
        ex = self.cur
        assert ex is not None
        ex.method = self.parser.get_method()
        ex.keep_alive = self.parser.should_keep_alive()
        if self.active is None:
            self.start(ex)
        else:
            self.pending.append(ex)
            self.pause_reading()

    def on_body(self, body: bytes) -> None:
        if self.cur is not None:
            self.cur.add_body(body)

    def on_message_complete(self) -> None:
        if self.cur is not None:
            self.cur.end_request()

    # exchanges ---------------------------------------------------------------------------
    def start(self, ex: Exchange) -> None:
        self.active = ex
        ex.started = True
        host = b""
        forwarded_for = b""
        lines = [b""]  # the request line goes first, once the route is known
        for name, value in ex.headers:
            low = name.lower()
            if low not in SPECIAL:
                lines.append(name + b": " + value)
            elif low == b"host":
                host = value
                lines.append(name + b": " + value)
            elif low == b"content-length":
                ex.has_body = value.strip() not in (b"0", b"")
                lines.append(name + b": " + value)
            elif low == b"transfer-encoding":
                ex.chunked = b"chunked" in value.lower()
                ex.has_body = True
            elif low == b"x-forwarded-for":
                forwarded_for = value
            # other hop-by-hop headers and X-Forwarded-Proto/Host are dropped (we set our own)
        route = self.server.route(host, ex.url)
        if route is None:
            where = (host + ex.url.partition(b"?")[0]).decode("latin-1")
            self.error(ex, self.server.no_route_status, f"no route for {where}")
            return
        target = self.server.pick(route)
        if target is None:
            self.error(ex, 502, f"no healthy instance of service {route.service!r} for route {route.host}{route.path}")
            return
        ex.target = target
        url = ex.url
        if route.strip:
            path, sep, query = url.partition(b"?")
            url = rewrite_path(route, path.decode("latin-1")).encode("latin-1") + sep + query
        lines[0] = ex.method + b" " + url + b" HTTP/1.1"
        if ex.chunked:
            lines.append(b"Transfer-Encoding: chunked")
        lines.append(b"X-Forwarded-For: " + (forwarded_for + b", " + self.client_ip_b if forwarded_for else self.client_ip_b))
        lines.append(b"X-Forwarded-Proto: http")
        if host:
            lines.append(b"X-Forwarded-Host: " + host)
        lines.append(b"\r\n")
        ex.head = b"\r\n".join(lines)
        up = self.server.pool(target).acquire()
        if up is not None:
            up.reused = True
            ex.attach(up)
        else:
            self.server.connect(ex)

    def finished(self, ex: Exchange, *, close_upstream: bool, close_client: bool = False) -> None:
        """The response is complete (or failed): free the upstream, start what waits."""
        if ex is not self.active:
            return  # a late event of an exchange already finished
        up, ex.upstream = ex.upstream, None
        if up is not None:
            up.exchange = None
            if close_upstream:
                up.close()
            else:
                if ex.method == b"HEAD":
                    up.parser = httptools.HttpResponseParser(up)
                up.pool.release(up)
        if ex.discard and not ex.request_done:
            return  # the error went out; wait for the rest of the request body to pass
        self.active = None
        if close_client or not ex.keep_alive:
            self.close()
            return
        if self.pending:
            nxt = self.pending.popleft()
            if not self.pending:
                self.resume_reading()
            self.start(nxt)
        else:
            self.resume_reading()

    def error(self, ex: Exchange, status: int, message: str) -> None:
        body = (message + "\n").encode()
        reason = {400: b"Bad Request", 404: b"Not Found", 501: b"Not Implemented", 502: b"Bad Gateway"}.get(status, b"Error")
        # a body still on its way is read and thrown away, then the connection closes (closing
        # with unread data would reset it and could lose this answer); bounded by LINGER
        close = not ex.keep_alive or (ex.has_body and not ex.request_done)
        conn = b"close" if close else b"keep-alive"
        self.write(
            b"HTTP/1.1 %d %b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: %b\r\n\r\n%b"
            % (status, reason, len(body), conn, body)
        )
        ex.response_done = True
        ex.discard = True
        ex.buffer = []
        if ex.upstream is not None:
            up, ex.upstream = ex.upstream, None
            up.exchange = None
            up.close()
        if close:
            ex.keep_alive = False
            if not ex.request_done:
                self.resume_reading()
                asyncio.get_running_loop().call_later(LINGER, self.close)
                return
        if ex.request_done:
            self.finished(ex, close_upstream=False)

    def error_raw(self, status: int, message: str) -> None:
        body = (message + "\n").encode()
        self.write(b"HTTP/1.1 %d Error\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%b" % (status, len(body), body))
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()


class ProxyServer:
    """Shared state of the data path: where to read the table, pools, the strategy."""

    def __init__(self, table: Callable[[], RouteTable], *, strategy: str = "rr", no_route_status: int = 502,
                 client_idle_timeout: float = 75.0, upstream_idle_timeout: float = 60.0) -> None:
        self.table = table
        self.strategy = strategy
        self.no_route_status = no_route_status
        self.client_idle_timeout = client_idle_timeout
        self.upstream_idle_timeout = upstream_idle_timeout
        self.conns: set[Downstream] = set()
        self._cached_table: RouteTable | None = None
        self._route_cache: dict[tuple[bytes, bytes], Route | None] = {}
        self.pools: dict[tuple[str, int, str, bool], Pool] = {}

    def route(self, host: bytes, url: bytes) -> Route | None:
        """The route for a request, memoised per (host, path) until the table changes (most
        traffic repeats a few paths; the cache is bounded and dropped with the table)."""
        table = self.table()
        if table is not self._cached_table:
            self._cached_table = table
            self._route_cache = {}
        path = url.partition(b"?")[0]
        key = (host, path)
        try:
            return self._route_cache[key]
        except KeyError:
            pass
        route = table.lookup(host.decode("latin-1"), path.decode("latin-1"))
        if len(self._route_cache) >= ROUTE_CACHE:
            self._route_cache = {}
        self._route_cache[key] = route
        return route

    def pick(self, route: Route) -> Target | None:
        targets = route.targets
        if not targets:
            return None
        if self.strategy == "rnd":
            return random.choice(targets)
        return targets[route.next_rr() % len(targets)]

    def pool(self, target: Target) -> Pool:
        key = (target.address, target.port, target.proto, target.tls_skip_verify)
        p = self.pools.get(key)
        if p is None:
            tls = None
            if target.proto == "https":
                tls = ssl.create_default_context()
                if target.tls_skip_verify:
                    tls.check_hostname = False
                    tls.verify_mode = ssl.CERT_NONE
            p = self.pools[key] = Pool(target.address, target.port, tls)
        return p

    def connect(self, ex: Exchange) -> None:
        asyncio.get_running_loop().create_task(self._connect(ex))

    async def _connect(self, ex: Exchange) -> None:
        target = ex.target
        assert target is not None
        pool = self.pool(target)
        loop = asyncio.get_running_loop()
        try:
            _, up = await asyncio.wait_for(
                loop.create_connection(lambda: Upstream(pool), target.address, target.port, ssl=pool.tls,
                                       server_hostname=target.address if pool.tls else None), timeout=5.0
            )
        except (TimeoutError, OSError) as exc:
            if not ex.conn.closed and ex is ex.conn.active:
                ex.conn.error(ex, 502, f"cannot reach backend {target.address}:{target.port} of service "
                                       f"{target.service!r}: {exc or 'timeout'}")
            return
        if ex.conn.closed or ex is not ex.conn.active or ex.discard:
            pool.release(up)
            return
        ex.attach(up)

    def sweep(self) -> None:
        """Close keep-alive connections idle for too long: clients that went quiet (as nginx's
        keepalive_timeout does) and pooled upstream connections nobody needed."""
        now = time.monotonic()
        for conn in list(self.conns):
            if conn.active is None and not conn.pending and now - conn.last > self.client_idle_timeout:
                conn.close()
        for pool in self.pools.values():
            for up in [u for u in pool.idle if now - u.idle_since > self.upstream_idle_timeout]:
                pool.discard(up)
                up.close()

    def close_pools(self) -> None:
        for p in self.pools.values():
            p.close()
        self.pools.clear()
