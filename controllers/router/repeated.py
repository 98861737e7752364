"""The fast path for repeated requests: a read holding exactly the bytes of its connection's
last whole request (clients repeat their heads: a poller, a load balancer's check, a
benchmark) is that request again, so it skips the parser, the routing and the head's
rewriting and starts from what the first one became (a `FastPlan`).

Its two halves are `repeat` (called by `Downstream.data_received`: the pick, the pooled
connection and the send done inline) and `FastPlan.repeated_fast` (called by
`Upstream.data_received` when the response is the connection's last one again: the counting
and the release done inline). `remember` (after a parse) keeps the candidate. The response
memo every exchange uses (`Exchange.memo`, `Exchange.repeated`) stays with the exchange.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import TYPE_CHECKING, Any, cast

from controllers.router.exchange import Exchange
from controllers.router.pool import MAX_IDLE_PER_BACKEND
from controllers.router.stats import BOUNDS, route_key

if TYPE_CHECKING:
    from controllers.router.downstream import Downstream
    from controllers.router.pool import Upstream
    from controllers.router.server import ProxyServer
    from controllers.router.table import Route, RouteTable

FAST_MAX = 4096  # longest request kept for `repeat`
new_exchange = object.__new__
# the lists a repeated request's exchange never fills (its head is the plan's): shared, and a
# tuple, so that an append would fail loudly rather than leak into another exchange
NOTHING: list[Any] = cast("list[Any]", ())


class FastPlan:
    """What a repeated request becomes (`repeat`): the table it was routed in, its route,
    method, target, Host and forwarded head; the route's rotation (picks, their pools, the
    round-robin counter: `ProxyServer.rotation`); and the route's counters in the stats, so
    that its responses are counted without a key being built (`repeated_fast`)."""

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

    def repeated_fast(self, ex: Exchange, up: Upstream, data: bytes) -> None:
        """`Exchange.repeated` for a repeated request's exchange `ex` (the client speaks
        HTTP/1.1 with keep-alive, the request is whole), with the stats, the write and, when
        both connections are kept and nothing waits, `Downstream.finished` and `Pool.release`
        done inline: the fast path's other half (`Upstream.data_received` chooses it)."""
        ex.response_started = ex.raw = ex.response_done = True
        status = ex.status = up.last_status
        keep = ex.response_keep_alive = up.last_keep_alive
        conn = ex.conn
        server = conn.server
        if server.fails:
            server.succeeded(ex.target)
        now = time.monotonic()
        if status != self.status:
            self.status, self.cell = status, server.stats.cell(self.rkey, status)
        self.cell[0] += 1
        elapsed = now - ex.born
        hist = self.hist
        hist[bisect_left(BOUNDS, elapsed)] += 1
        hist[-1] += elapsed
        transport = conn.transport
        if transport is not None and not conn.closed:
            transport.write(data)
        if keep and conn.active is ex and not conn.pending and conn.refusal is None:
            ex.upstream = up.exchange = None
            conn.active = None
            idle = up.pool.idle
            if up.closed or len(idle) >= MAX_IDLE_PER_BACKEND:
                up.close()
            else:
                up.idle_since = now
                idle.append(up)
            if conn.paused:
                conn.resume_reading()
        else:
            conn.finished(ex, close_upstream=not keep)


class Repeated(Exchange):
    """The exchange of a repeated request (`repeat`), made without `__init__`: what every one
    of them starts with is on the class (its request whole, its head the plan's, no header or
    body of its own), so only what differs is set per request."""

    headers_done = request_done = started = True
    headers = fwd = buffer = NOTHING


def remember(conn: Downstream, data: bytes) -> None:
    """A whole request came in this one read, between two others: if it is the common kind
    (keep-alive HTTP/1.1 without a body, on a route without options), keep its bytes and what
    they became, for `repeat`."""
    ex, table = conn.cur, conn.server.current_table
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
        conn.fast_raw = data
        conn.fast_seed, conn.fast_plan = (table, ex), None  # the plan is made if the bytes come again


def repeat(conn: Downstream, now: float) -> bool:
    """The fast path: a read holding exactly the bytes of the connection's last whole request
    (clients repeat their heads: a poller, a load balancer's check, a benchmark), with the
    parser between messages and the table unchanged, is that request again. The parser would
    reach the same end in the same state (a message's end resets it), the limits passed these
    bytes, and the route and forwarded head depend on nothing else (the client's address is
    the connection's), so the exchange starts from the plan. With no instance passed over and
    round robin, the pick, the pooled connection and the send are done here, inline
    (`ProxyServer.dispatch`, `pick`, `Pool.acquire` and `Exchange.attach` cost a call each,
    per request); otherwise `dispatch` does them."""
    plan = conn.fast_plan
    server = conn.server
    if plan is None or plan.table is not server.table():
        plan = conn.fast_plan = make_plan(conn)
        if plan is None:
            return False
    ex: Exchange = new_exchange(Repeated)  # without __init__: what it sets is on the class
    ex.conn = conn
    ex.plan = plan
    ex.born = ex.last_up = now
    ex.route, ex.method, ex.url = plan.route, plan.method, plan.url
    ex.host, ex.head = plan.host, plan.head
    conn.cur = conn.active = ex
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


def make_plan(conn: Downstream) -> FastPlan | None:
    """The plan of the remembered request, made the first time its bytes come again (most
    requests are never repeated on their connection): None when the table has changed."""
    seed, conn.fast_seed = conn.fast_seed, None
    if seed is None or seed[0] is not conn.server.table():
        return None
    table, ex = seed
    assert ex.route is not None
    return FastPlan(table, ex.route, ex, conn.server)
