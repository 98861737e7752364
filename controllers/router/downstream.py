"""A client connection: parses requests with httptools and runs them one at a time
(pipelined ones wait their turn), writing the request head each backend sees."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

import httptools

from controllers.router.exchange import Exchange
from controllers.router.table import rewrite_path

if TYPE_CHECKING:
    from controllers.router.server import ProxyServer

HOP_BY_HOP = {
    b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding", b"upgrade",
    b"proxy-authorization", b"proxy-authenticate",
}
# headers that need a look in `start`; every other header is copied as it came
SPECIAL = HOP_BY_HOP | {b"host", b"content-length", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"}
LINGER = 2.0  # seconds a client may take to finish sending a body we answered early


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
