"""A client connection: frames requests with httptools, enforces the limits, and runs the
requests one at a time (pipelined ones wait their turn, their bodies already framed).

A request that breaks the grammar or a limit is answered in its turn (after the responses
of the requests before it) and the connection is then half-closed: nothing after a broken
request can be trusted to be where the client meant it to be.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING

import httptools

from controllers.router.exchange import HOP_BY_HOP, Exchange, Repeated, connection_tokens
from controllers.router.limits import Refused, error_response
from controllers.router.pool import Watcher
from controllers.router.stats import route_key
from controllers.router.table import Route, RouteTable, rewrite_path

if TYPE_CHECKING:
    from controllers.router.server import ProxyServer

LINGER = 2.0  # seconds a client may take to finish sending a body we answered early
# never dropped because a client's `Connection` header names them: the framing and routing depend on them
KEEP = frozenset({b"host", b"content-length"})
# set by the router, never passed as the client sent them: X-Real-Ip and Forwarded as Fabio
# sets them (the client's address), except that a client's Forwarded is replaced, not kept
# (review L4); X-Forwarded-For is the one list a client may extend
OURS = frozenset({b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-real-ip", b"forwarded"})
# the forwarded head of a request on a route without options (most of them), in one formatting
PLAIN_HEAD = (
    b"%b %b HTTP/1.1\r\n%bX-Forwarded-For: %b\r\nX-Forwarded-Proto: %b\r\nX-Forwarded-Host: %b\r\n"
    b'%b; host="%b"\r\n\r\n'
)
ROUTER_HEADERS = OURS | {b"content-length"}  # read by the router (`Downstream.router_header`)
FAST_MAX = 4096  # longest request kept for `Downstream.repeat`
new_exchange = object.__new__


class FastPlan:
    """What a repeated request becomes (`Downstream.repeat`): the table it was routed in, its
    route, method, target, Host and forwarded head; the route's rotation (picks, their pools,
    the round-robin counter: `ProxyServer.rotation`); and the route's counters in the stats,
    so that its responses are counted without a key being built (`Exchange.repeated_fast`)."""

    __slots__ = (
        "cell",
        "counter",
        "head",
        "hist",
        "host",
        "method",
        "pools",
        "rkey",
        "route",
        "status",
        "table",
        "targets",
        "url",
    )

    def __init__(self, table: RouteTable, route: Route, ex: Exchange, server: ProxyServer) -> None:
        self.table, self.route = table, route
        self.method, self.url, self.host, self.head = ex.method, ex.url, ex.host, ex.head
        self.targets, self.pools, self.counter = server.rotation(route)
        self.rkey = route_key(route)
        self.hist = server.stats.histogram(self.rkey)
        self.status = 0  # the status `cell` counts (the last one seen)
        self.cell: list[int] = [0]


def client_head(ip: bytes, scheme: bytes) -> bytes:
    """`X-Real-Ip` and the start of `Forwarded` (RFC 7239: an IPv6 address is quoted in
    brackets) for a client connection, as Fabio sets them; `; host=...` follows per request."""
    node = b'"[' + ip + b']"' if b":" in ip else ip
    return b"X-Real-Ip: " + ip + b"\r\nForwarded: for=" + node + b"; proto=" + scheme


def quoted(host: bytes) -> bytes:
    """The Host as the inside of an RFC 7239 quoted-string: a client's quote cannot end it
    early and add parameters (`for=`) of its own."""
    if b'"' in host or b"\\" in host:
        return host.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    return host


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
        self.client_head = b""  # X-Real-Ip and Forwarded up to its host (`client_head`)
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
        # the last request that came whole in one read, and what it became (see `repeat`)
        self.fast_raw = b""
        self.fast_plan: FastPlan | None = None
        self.fast_seed: tuple[RouteTable, Exchange] | None = None  # what `plan` makes it from

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
        if at_rest and data == self.fast_raw and self.repeat(now):
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
                self.remember(data)

    def remember(self, data: bytes) -> None:
        """A whole request came in this one read, between two others: if it is the common
        kind (keep-alive HTTP/1.1 without a body, on a route without options), keep its bytes
        and what they became, for `repeat`."""
        ex, table = self.cur, self.server.current_table
        if (
            ex is not None
            and ex.route is not None
            and ex.route.plain
            and table is not None
            and len(data) <= FAST_MAX
            and ex.keep_alive
            and ex.client_11
            and not (ex.has_body or ex.chunked or ex.upgrade)
        ):
            self.fast_raw = data
            self.fast_seed, self.fast_plan = (table, ex), None  # the plan is made if the bytes come again

    def repeat(self, now: float) -> bool:
        """The fast path: a read holding exactly the bytes of the connection's last whole
        request (clients repeat their heads: a poller, a load balancer's check, a benchmark),
        with the parser between messages and the table unchanged, is that request again. The
        parser would reach the same end in the same state (a message's end resets it), the
        limits passed these bytes, and the route and forwarded head depend on nothing else (the
        client's address is the connection's), so the exchange starts from the plan. With no
        instance passed over and round robin, the pick, the pooled connection and the send are
        done here, inline (`ProxyServer.dispatch`, `pick`, `Pool.acquire` and `Exchange.attach`
        cost a call each, per request); otherwise `dispatch` does them."""
        plan = self.fast_plan
        server = self.server
        if plan is None or plan.table is not server.table():
            plan = self.fast_plan = self.plan()
            if plan is None:
                return False
        ex: Exchange = new_exchange(Repeated)  # without __init__: what it sets is on the class
        ex.conn = self
        ex.plan = plan
        ex.born = ex.last_up = now
        ex.route, ex.method, ex.url = plan.route, plan.method, plan.url
        ex.host, ex.head = plan.host, plan.head
        self.cur = self.active = ex
        if server.down or server.strategy != "rr":
            ex.tried = []
            server.dispatch(ex)
            return True
        i = next(plan.counter) % len(plan.targets)
        ex.target = target = plan.targets[i]
        ex.tried = [target]
        idle = plan.pools[i].idle
        while idle:
            up = idle.pop()
            transport = up.transport
            if not up.closed and transport is not None and not transport.is_closing():
                break
        else:
            server.dispatch(ex, target)  # no idle connection: a new one
            return True
        up.reused = ex.sent = True
        ex.upstream, up.exchange, ex.resp_parser = up, ex, up.parser
        transport.write(plan.head)
        return True

    def plan(self) -> FastPlan | None:
        """The plan of the remembered request, made the first time its bytes come again (most
        requests are never repeated on their connection): None when the table has changed."""
        seed, self.fast_seed = self.fast_seed, None
        if seed is None or seed[0] is not self.server.table():
            return None
        table, ex = seed
        assert ex.route is not None
        return FastPlan(table, ex.route, ex, self.server)

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
        self.frame(ex)
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
    def frame(self, ex: Exchange) -> None:
        """Read the request's framing and the headers that are the router's business, and keep
        the lines every backend will see (the hop-by-hop ones and those the client's
        `Connection` names are dropped). Runs when the headers end, before any body byte."""
        drop: set[bytes] = set()
        upgrade = b""
        lines: list[tuple[bytes, bytes]] = []
        for name, value in ex.headers:
            low = name.lower()
            if low == b"host":  # in every request: read here, not in router_header
                ex.host = value
                lines.append((low, name + b": " + value + b"\r\n"))
            elif low in HOP_BY_HOP:
                upgrade = self.hop_by_hop(ex, low, value, drop) or upgrade
            elif low in ROUTER_HEADERS:
                if self.router_header(ex, low, value):
                    lines.append((low, name + b": " + value + b"\r\n"))
            else:
                lines.append((low, name + b": " + value + b"\r\n"))
        drop -= KEEP
        ex.fwd = [line for low, line in lines if low not in drop] if drop else [line for _, line in lines]
        ex.upgrade = ex.upgrade and bool(upgrade)
        if ex.upgrade:  # WebSocket and the like: the two headers that ask for it go through
            ex.fwd += [b"Connection: Upgrade\r\n", b"Upgrade: " + upgrade + b"\r\n"]
            ex.keep_alive = False  # unless the backend switches, the connection ends with its answer

    def hop_by_hop(self, ex: Exchange, low: bytes, value: bytes, drop: set[bytes]) -> bytes:
        """A hop-by-hop header: never forwarded, but it frames the body (`Transfer-Encoding`),
        names more headers to drop (`Connection`) or asks to switch protocols; returns the
        `Upgrade` header's value ("" for the others)."""
        if low == b"transfer-encoding":
            if value.strip().lower() != b"chunked":
                raise Refused(501, f"transfer coding {value.decode('latin-1')!r} is not supported")
            ex.chunked = ex.has_body = True
        elif low == b"connection":
            tokens = connection_tokens(value)
            drop |= tokens
            ex.upgrade = ex.upgrade or b"upgrade" in tokens
        elif low == b"upgrade":
            return value
        return b""

    def router_header(self, ex: Exchange, low: bytes, value: bytes) -> bool:
        """`Content-Length` and the `X-Forwarded-*` the router sets itself: read;
        True when the header is forwarded as it came."""
        if low == b"content-length":
            length = int(value)  # llhttp has checked it: digits, and only one
            ex.has_body = length > 0
            if self.limits.max_body and length > self.limits.max_body:
                raise Refused(413, f"request body larger than {self.limits.max_body} bytes")
            return True
        if low == b"x-forwarded-for":  # several are one list (RFC 9110 5.3)
            ex.xff = ex.xff + b", " + value if ex.xff else value
        return False

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
            ex.head = self.head_for(ex, route, xff)
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

    def head_for(self, ex: Exchange, route: Route, xff: bytes) -> bytes:
        """The request head a route with options (or a chunked or HTTP/1.0 request) sends."""
        url = ex.url
        if route.strip or route.prepend:
            path, sep, query = url.partition(b"?")
            url = rewrite_path(route, path.decode("latin-1")).encode("latin-1") + sep + query
        lines = [ex.method + b" " + url + b" HTTP/1.1\r\n"]
        if route.host_header:  # `host=`: the Host header the instance sees (`dst`: added per instance)
            lines += [line for line in ex.fwd if line[:5].lower() != b"host:"]
            if route.host_header != "dst":
                lines.append(b"Host: " + route.host_header.encode("latin-1") + b"\r\n")
        else:
            lines += ex.fwd
            if not ex.host:  # an HTTP/1.0 request; HTTP/1.1 backends need one
                lines.append(b"Host: " + route.service.encode() + b"\r\n")
        if ex.chunked:
            lines.append(b"Transfer-Encoding: chunked\r\n")
        lines.append(b"X-Forwarded-For: " + xff + b"\r\nX-Forwarded-Proto: " + self.server.scheme + b"\r\n")
        if ex.host:
            lines.append(b"X-Forwarded-Host: " + ex.host + b"\r\n")
        lines.append(
            self.client_head + (b'; host="' + quoted(ex.host) + b'"' if ex.host else b"") + b"\r\n\r\n"
        )
        return b"".join(lines)

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
