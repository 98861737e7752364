"""A client connection: frames requests with httptools, enforces the limits, and runs the
requests one at a time (pipelined ones wait their turn, their bodies already framed).

A request that breaks the grammar or a limit is answered in its turn (after the responses
of the requests before it) and the connection is then half-closed: nothing after a broken
request can be trusted to be where the client meant it to be.

What the router does to a request's headers is `headers` (`frame` when they end, `head_for`
or `PLAIN_HEAD` when the request starts); a read that repeats the last request's bytes
takes the fast path of `repeated` instead of the parser.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

import httptools

from controllers.router.exchange import Exchange
from controllers.router.headers import PLAIN_HEAD, client_head, frame, head_for, quoted
from controllers.router.limits import Refused, error_response
from controllers.router.pool import Watcher
from controllers.router.repeated import FastPlan, remember, repeat
from controllers.router.table import Route, RouteTable

if TYPE_CHECKING:
    from controllers.router.server import ProxyServer

LINGER = 2.0  # seconds a client may take to finish sending a body we answered early


class Downstream(asyncio.Protocol):
    """One client connection and the exchanges on it."""

    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.limits = server.limits
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.cur: Exchange | None = None
        self.active: Exchange | None = None
        self.pending: deque[Exchange] = deque()
        self.client_ip = ""
        self.client_ip_b = b""
        self.client_head = b""  # X-Real-Ip and Forwarded up to its host (`headers.client_head`)
        self.closed = False
        self.paused = False
        self.last = 0.0  # the last read from the client
        self.head_since = 0.0  # reading a request head since then (0: not reading one)
        self.head_raw = 0  # bytes read while in a request head (a guard below the parser's buffering)
        self.refusal: bytes | None = None  # the answer to a broken request, sent in its turn
        self.lingering = False
        self.tunnel: Exchange | None = None  # an upgraded (WebSocket) exchange: bytes pass as they are
        # between two requests (the parser's last event was a message's end)
        self.boundary = True
        self.begun = 0  # requests begun in the read being parsed
        # the last request that came whole in one read, and what it became (`repeated.repeat`)
        self.fast_raw = b""
        self.fast_plan: FastPlan | None = None
        self.fast_seed: tuple[RouteTable, Exchange] | None = None  # what `repeated.make_plan` makes it from

    # transport events --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.client_ip = peer[0] if peer else ""
        self.client_ip_b = self.client_ip.encode()
        self.client_head = client_head(self.client_ip_b, self.server.scheme)
        self.last = self.head_since = time.monotonic()
        if len(self.server.conns) >= self.limits.max_conns:
            self.write(
                error_response(
                    503, f"too many connections (the router's limit is {self.limits.max_conns})", close=True
                )
            )
            self.close()
            return
        self.server.conns.add(self)

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.tunnel_from_client(data)
            return
        if self.lingering:
            return  # after a refusal: read and drop until the client goes
        now = self.last = time.monotonic()
        at_rest = self.boundary and self.active is None
        if at_rest and data == self.fast_raw and repeat(self, now):
            return
        if self.head_since and self.head_raw > self.limits.max_header_bytes:
            self.reject(431, f"request headers larger than {self.limits.max_header_bytes} bytes")
            return
        self.parse(data, at_rest)

    def parse(self, data: bytes, at_rest: bool) -> None:
        """The parser's way: callbacks frame and start the requests; a broken one is refused."""
        self.begun = 0
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            refused = exc.__context__
            if not isinstance(refused, Refused):
                raise
            self.reject(refused.status, refused.message)
        except httptools.HttpParserUpgrade as exc:
            self.upgraded(data, exc)
        except httptools.HttpParserError as exc:
            self.reject(400, f"bad request: {exc}")
        else:
            if self.head_since:
                self.head_raw = 0 if self.head_raw < 0 else self.head_raw + len(data)
            elif at_rest and self.begun == 1 and self.boundary:
                remember(self, data)

    def upgraded(self, data: bytes, exc: httptools.HttpParserUpgrade) -> None:
        """The parser stopped at an upgrade request's end: from here on the client's bytes
        are the new protocol's, passed to the backend as they come."""
        ex = self.cur
        if ex is None or not ex.upgrade or ex is not self.active:
            self.reject(400, "an upgrade request must be the last request on its connection")
            return
        self.tunnel = ex
        rest = data[exc.args[0] :] if exc.args and isinstance(exc.args[0], int) else b""
        if rest:
            ex.tunnel_from_client(rest)

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
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    # parser callbacks (a Refused raised here becomes the answer) -------------------------
    def on_message_begin(self) -> None:
        self.boundary = False
        self.begun += 1
        self.cur = Exchange(self)
        self.head_raw = -1  # the read that began this head may hold the previous body: not counted
        if not self.head_since:
            self.head_since = time.monotonic()

    def on_url(self, url: bytes) -> None:
        ex = self.cur
        assert ex is not None
        ex.url += url
        if len(ex.url) > self.limits.max_line:
            raise Refused(414, f"request target longer than {self.limits.max_line} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        ex = self.cur
        assert ex is not None
        if ex.headers_done:
            return  # a chunked body's trailer: never becomes a header
        ex.headers.append((name, value))
        ex.head_bytes += len(name) + len(value) + 4
        if len(ex.headers) > self.limits.max_headers:
            raise Refused(431, f"more than {self.limits.max_headers} header fields")
        if ex.head_bytes + len(ex.url) > self.limits.max_header_bytes:
            raise Refused(431, f"request headers larger than {self.limits.max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        ex = self.cur
        assert ex is not None
        ex.headers_done = True
        self.head_since = 0.0
        ex.method = self.parser.get_method()
        ex.keep_alive = self.parser.should_keep_alive()
        ex.client_11 = self.parser.get_http_version() == "1.1"
        frame(ex, self.limits)
        if self.active is None:
            self.start(ex)
        else:
            self.pending.append(ex)
            self.pause_reading()

    def on_body(self, body: bytes) -> None:
        ex = self.cur
        if ex is not None:
            ex.body_bytes += len(body)
            if self.limits.max_body and ex.body_bytes > self.limits.max_body:
                raise Refused(413, f"request body larger than {self.limits.max_body} bytes")
            ex.add_body(body)

    def on_message_complete(self) -> None:
        self.boundary = True
        if self.cur is not None:
            self.cur.end_request()

    # exchanges ---------------------------------------------------------------------------
    def start(self, ex: Exchange) -> None:
        self.active = ex
        ex.started = True
        route = self.server.route(ex.host, ex.url)
        if route is None:
            where = (ex.host + ex.url.partition(b"?")[0]).decode("latin-1")
            self.error(ex, self.server.no_route_status, f"no route for {where}")
            return
        if route.canaries is not None and route.wants_canary(ex.headers):
            route = route.canaries  # a person checking the canary before promoting it
        if not route.plain and self.answered_by_options(ex, route):
            return
        if not route.targets:
            self.error(
                ex,
                503,
                f"no healthy instance of service {route.service!r} for route {route.host}{route.path}",
            )
            return
        ex.route = route
        xff = ex.xff + b", " + self.client_ip_b if ex.xff else self.client_ip_b
        if route.plain and ex.host and not ex.chunked:  # the common case, in one formatting
            ex.head = PLAIN_HEAD % (
                ex.method,
                ex.url,
                b"".join(ex.fwd),
                xff,
                self.server.scheme,
                ex.host,
                self.client_head,
                quoted(ex.host),
            )
        else:
            ex.head = head_for(ex, route, xff, self.server.scheme, self.client_head)
        self.server.dispatch(ex)

    def answered_by_options(self, ex: Exchange, route: Route) -> bool:
        """`allow=`/`deny=` refusing the client, or `redirect=`: the router answers itself."""
        if not route.admits(self.client_ip):
            self.error(ex, 403, f"route {route.host}{route.path} does not admit {self.client_ip}")
            return True
        if route.redirect is not None:
            code, location = route.redirect
            location = location.replace("$path", ex.url.decode("latin-1"))
            self.error(
                ex,
                code,
                f"redirected to {location}",
                extra=b"Location: " + location.encode("latin-1") + b"\r\n",
            )
            return True
        return False

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
                    up.watcher = httptools.HttpResponseParser(Watcher(up))
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
        elif self.refusal is not None:
            self.write(self.refusal)
            self.linger()
        else:
            self.resume_reading()

    def error(self, ex: Exchange, status: int, message: str, extra: bytes = b"") -> None:
        # a body still on its way is read and thrown away, then the connection closes (closing
        # with unread data would reset it and could lose this answer); bounded by LINGER
        close = not ex.keep_alive or (ex.has_body and not ex.request_done)
        self.server.stats.response(ex.route, status, ex.born)
        self.write(error_response(status, message, close=close, extra=extra))
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

    def reject(self, status: int, message: str) -> None:
        """A request broke the grammar or a limit: answer it after the ones before it, then close."""
        self.lingering = True
        self.head_since = 0.0
        answer = error_response(status, message, close=True)
        ex = self.active
        if ex is not None and ex is self.cur and not ex.request_done:
            # the running request itself (its body too big or too slow)
            if ex.response_started:
                self.close()
                return
            ex.discard = True
            ex.response_done = True
            if ex.upstream is not None:
                up, ex.upstream = ex.upstream, None
                up.exchange = None
                up.close()
            self.active = None
        elif ex is not None or self.pending:
            self.refusal = answer
            return
        self.write(answer)
        self.linger()

    def linger(self) -> None:
        """Half-close after a last answer: it is flushed, the client's remaining bytes are read
        and dropped for a moment (closing with unread data would reset the connection and
        could destroy the answer), then the connection goes."""
        self.lingering = True
        self.resume_reading()
        if self.transport is not None and not self.closed and self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER, self.close)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()
