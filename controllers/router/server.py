"""The proxy's data path: asyncio protocols, httptools parsers, pooled upstream connections.

Why protocol level and not a web framework: a request costs a few parser callbacks and two
`transport.write` calls here; a framework's request/response objects and a client session
cost ten times that (docs/architecture.md, "Why these choices"). Bodies stream in
both directions without being held: request bodies are re-framed as they arrive (chunked
stays chunked, Content-Length passes through); responses are forwarded byte for byte while
a response parser watches for the end of the message, which is when the upstream connection
goes back to its pool (if the backend keeps it alive) and the next request of the client's
keep-alive connection may start.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import ssl
import time
from collections.abc import Callable

from controllers.router.downstream import Downstream
from controllers.router.exchange import Exchange
from controllers.router.pool import Pool, Upstream
from controllers.router.table import Route, RouteTable, Target

ROUTE_CACHE = 4096


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
        self._rr: dict[tuple[str, str], itertools.count[int]] = {}  # by (host, path)

    def route(self, host: bytes, url: bytes) -> Route | None:
        """The route for a request, memoised per (host, path) until the table changes (most
        traffic repeats a few paths; the cache is bounded and dropped with the table)."""
        table = self.table()
        if table is not self._cached_table:
            self._cached_table = table
            self._route_cache = {}
            self._rr = {}  # counters of routes that left the table go with it
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
        counter = self._rr.get((route.host, route.path))
        if counter is None:
            counter = self._rr[(route.host, route.path)] = itertools.count()
        return targets[next(counter) % len(targets)]

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
