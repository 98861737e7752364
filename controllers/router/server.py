"""The proxy's data path: asyncio protocols, httptools parsers, pooled upstream connections.

Why protocol level and not a web framework: a request costs a few parser callbacks and two
`transport.write` calls here; a framework's request/response objects and a client session
cost ten times that (docs/architecture.md, "Why these choices"). Bodies stream in
both directions without being held: request bodies are re-framed as they arrive (chunked
stays chunked, Content-Length passes through); responses are forwarded byte for byte while
a response parser watches for the end of the message, which is when the upstream connection
goes back to its pool (if the backend keeps it alive) and the next request of the client's
keep-alive connection may start.

Failures are absorbed where that is safe: a request that could not reach an instance, or
whose idempotent, body-less request met a connection closed before any response byte, is
tried on another instance of the route (`Limits.max_tries`), and an instance that failed
is passed over for `fail_timeout` (passive health, nginx's `max_fails`/`fail_timeout`).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import ssl
import time
from collections.abc import Callable

from controllers.router.downstream import Downstream
from controllers.router.exchange import Exchange
from controllers.router.limits import Limits
from controllers.router.pool import Pool, Upstream
from controllers.router.stats import RouterStats
from controllers.router.table import Route, RouteTable, Target

log = logging.getLogger(__name__)

# a route's picks, the pool of each, and its round-robin counter (ProxyServer.rotation)
Rotation = tuple[tuple[Target, ...], tuple[Pool, ...], "itertools.count[int]"]

ROUTE_CACHE = 4096
CACHED_PATH = 256  # longer paths are looked up every time rather than held in the cache


def sweep_period(lim: Limits) -> float:
    """How often `ProxyServer.sweep` runs: a quarter of the shortest timeout (at least 50 ms)."""
    shortest = min(
        lim.client_idle_timeout,
        lim.upstream_idle_timeout,
        lim.header_timeout,
        lim.body_timeout,
        lim.response_timeout,
    )
    return max(shortest / 4, 0.05)


RR_COUNTERS = 10_000  # routes whose round-robin counters are kept at most


class ProxyServer:
    """Shared state of the data path: where to read the table, pools, the strategy, the
    round-robin counters and the passive health of instances."""

    def __init__(
        self,
        table: Callable[[], RouteTable],
        *,
        strategy: str = "rr",
        no_route_status: int = 404,
        limits: Limits | None = None,
        tls: bool = False,
    ) -> None:
        self.table = table
        # what clients speak to the listener (X-Forwarded-Proto): https with --router-tls-cert
        self.scheme = b"https" if tls else b"http"
        self.strategy = strategy
        self.no_route_status = no_route_status
        self.limits = limits or Limits()
        self.conns: set[Downstream] = set()
        self.current_table: RouteTable | None = None  # the table `route` last looked in
        self._route_cache: dict[tuple[bytes, bytes], Route | None] = {}
        self.pools: dict[tuple[str, int, str, bool], Pool] = {}
        # round-robin counters by the route's (host, path), kept across tables: a table is built
        # again on every catalog or check change, and a counter that started over with each
        # one would send a weighted route's traffic to its first slots only
        self._rr: dict[tuple[str, str], itertools.count[int]] = {}
        self._pool_of: dict[int, tuple[Target, Pool]] = {}
        # by id(): hashing a frozen dataclass hashes every field; each entry keeps its object, so
        # an id is only trusted while it is that object's (made again with each table)
        self._rotations: dict[int, tuple[Route, Rotation]] = {}
        self.fails: dict[tuple[str, int], tuple[int, float]] = {}  # (address, port) -> (count, since)
        self.down: dict[tuple[str, int], float] = {}  # (address, port) -> passed over until
        self.stats = RouterStats()

    def route(self, host: bytes, url: bytes) -> Route | None:
        """The route for a request, memoised per (host, path) until the table changes (most
        traffic repeats a few paths; the cache is bounded and dropped with the table)."""
        table = self.table()
        if table is not self.current_table:
            self.current_table = table
            self._route_cache = {}
            if len(self._rr) > RR_COUNTERS:
                self._rr = {}  # bounded: counters of routes gone from the table go now and then
            self._pool_of = {}
            self._rotations = {}
        path = url.partition(b"?")[0]
        key = (host, path)
        try:
            return self._route_cache[key]
        except KeyError:
            pass
        route = table.lookup(host.decode("latin-1"), path.decode("latin-1"))
        if len(path) <= CACHED_PATH:
            if len(self._route_cache) >= ROUTE_CACHE:
                self._route_cache = {}
            self._route_cache[key] = route
        return route

    # choosing an instance ----------------------------------------------------------------
    def pick(self, route: Route, tried: list[Target]) -> Target | None:
        """The next instance for a request: by the strategy, among those not tried yet for it
        and not failed lately; when every one failed lately, among all (as nginx does: a guess
        beats a certain error). None when every instance has been tried."""
        targets = route.slots or route.targets
        if tried or self.down:
            now = time.monotonic()
            left = [t for t in targets if t not in tried]
            fresh = [t for t in left if self.down.get((t.address, t.port), 0.0) <= now]
            targets = tuple(fresh or left)
        if not targets:
            return None
        if self.strategy == "rnd":
            return random.choice(targets)
        return targets[next(self.counter(route)) % len(targets)]

    def counter(self, route: Route) -> itertools.count[int]:
        """The route's round-robin counter, by (host, path): kept across tables (see `_rr`)."""
        key = (route.host, route.path)
        counter = self._rr.get(key)
        if counter is None:
            counter = self._rr[key] = itertools.count()
        return counter

    def rotation(self, route: Route) -> Rotation:
        """What `repeated.repeat` picks from without calling `pick`: the route's picks in
        order, the pool of each, and its round-robin counter (shared with `pick`), made once
        per route while the table lasts."""
        entry = self._rotations.get(id(route))
        if entry is None or entry[0] is not route:
            targets = route.slots or route.targets
            rot = (targets, tuple(self.pool(t) for t in targets), self.counter(route))
            entry = self._rotations[id(route)] = (route, rot)
        return entry[1]

    def failed(self, target: Target | None) -> None:
        """An instance refused, reset, timed out or sent garbage: count it, and after
        `max_fails` within `fail_timeout` pass it over for `fail_timeout`."""
        if target is None:
            return
        self.stats.upstream_failed(target)
        key = (target.address, target.port)
        now = time.monotonic()
        count, since = self.fails.get(key, (0, now))
        if now - since > self.limits.fail_timeout:
            count, since = 0, now
        count += 1
        self.fails[key] = (count, since)
        if count >= self.limits.max_fails and self.down.get(key, 0.0) <= now:
            self.down[key] = now + self.limits.fail_timeout
            log.warning(
                "router instance=%s:%d service=%s alloc=%s failed: passed over for %gs",
                target.address,
                target.port,
                target.service,
                target.alloc_id,
                self.limits.fail_timeout,
            )
            for pool in self.pools.values():
                if (pool.address, pool.port) == key:
                    pool.close()  # its idle connections are as dead as it is

    def succeeded(self, target: Target | None) -> None:
        if self.fails and target is not None:
            key = (target.address, target.port)
            if self.fails.pop(key, None) is not None:
                self.down.pop(key, None)

    def pool(self, target: Target) -> Pool:
        entry = self._pool_of.get(id(target))
        if entry is None or entry[0] is not target:
            entry = self._pool_of[id(target)] = (target, self._make_pool(target))
        return entry[1]

    def _make_pool(self, target: Target) -> Pool:
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

    # sending a request -------------------------------------------------------------------
    def dispatch(self, ex: Exchange, target: Target | None = None, *, fresh: bool = False) -> None:
        """Send the exchange to `target` (default: the next pick), on a pooled connection
        unless `fresh`."""
        assert ex.route is not None
        if target is None:
            target = self.pick(ex.route, ex.tried)
            if target is None:
                ex.conn.error(ex, 502, f"{ex.failure} (tried {len(ex.tried)} of the route's instances)")
                return
            ex.tried.append(target)
        ex.target = target
        up = None if fresh else self.pool(target).acquire()
        if up is not None:
            up.reused = True
            ex.attach(up)
        else:
            asyncio.get_running_loop().create_task(self._connect(ex, target))

    def retry(self, ex: Exchange, *, same_target_ok: bool) -> None:
        """Try again: a pooled connection the backend had closed while idle is not the
        instance's fault, so the same instance gets a new connection; otherwise another one."""
        self.stats.retries += 1
        if same_target_ok and ex.target is not None:
            self.dispatch(ex, ex.target, fresh=True)
        else:
            self.dispatch(ex)

    async def _connect(self, ex: Exchange, target: Target) -> None:
        pool = self.pool(target)
        loop = asyncio.get_running_loop()
        try:
            _, up = await asyncio.wait_for(
                loop.create_connection(
                    lambda: Upstream(pool),
                    target.address,
                    target.port,
                    ssl=pool.tls,
                    server_hostname=target.address if pool.tls else None,
                ),
                timeout=self.limits.connect_timeout,
            )
        except (TimeoutError, OSError) as exc:
            self.failed(target)
            ex.failure = (
                f"cannot reach backend {target.address}:{target.port} of service {target.service!r}: "
                f"{exc or 'timeout'}"
            )
            if not ex.conn.closed and ex is ex.conn.active and not ex.discard:
                if ex.retryable():
                    self.dispatch(ex)
                else:
                    ex.conn.error(ex, 502, f"{ex.failure} (tried {len(ex.tried)} of the route's instances)")
            return
        if ex.conn.closed or ex is not ex.conn.active or ex.discard:
            pool.release(up)
            return
        ex.attach(up)

    # timers ------------------------------------------------------------------------------
    def sweep(self) -> None:
        """The clock's part of the limits: idle keep-alive clients (nginx's keepalive_timeout)
        and pooled connections, request heads and bodies too slow in coming (slowloris), and
        backends too slow to answer."""
        now = time.monotonic()
        for conn in list(self.conns):
            if conn.active is None:
                self._sweep_idle(conn, now)
            else:
                self._sweep_active(conn, conn.active, now)
        for key, until in list(self.down.items()):
            if until <= now:
                del self.down[key]  # back in the rotation; its fail count restarts on the next failure
                self.fails.pop(key, None)
        for pool in self.pools.values():
            for up in [u for u in pool.idle if now - u.idle_since > self.limits.upstream_idle_timeout]:
                pool.discard(up)
                up.close()

    def _sweep_idle(self, conn: Downstream, now: float) -> None:
        """A connection between requests: a head too slow in coming, or idle too long."""
        lim = self.limits
        if conn.pending or conn.lingering:
            return
        if conn.head_since and now - conn.head_since > lim.header_timeout:
            if conn.cur is not None and not conn.cur.headers_done:
                conn.reject(408, f"request headers not received within {lim.header_timeout:g}s")
            else:
                conn.close()  # connected and said nothing
        elif not conn.head_since and now - conn.last > lim.client_idle_timeout:
            conn.close()

    def _sweep_active(self, conn: Downstream, ex: Exchange, now: float) -> None:
        """A request running: its body stalled, or its backend too slow to answer."""
        lim = self.limits
        if not ex.request_done and not ex.discard and now - conn.last > lim.body_timeout:
            if ex.response_started:
                conn.close()
            else:
                conn.error(ex, 408, f"request body stalled for {lim.body_timeout:g}s")
        elif (
            ex.upstream is not None
            and not ex.response_done
            and now - max(ex.last_up, conn.last) > lim.response_timeout
        ):
            if ex.response_started:
                conn.close()  # a response stalled midway (or a client that stopped reading)
                return
            self.failed(ex.target)
            where = f"backend {ex.target.address}:{ex.target.port}" if ex.target else "backend"
            conn.error(ex, 504, f"{where} did not answer within {lim.response_timeout:g}s")

    def close_pools(self) -> None:
        for p in self.pools.values():
            p.close()
        self.pools.clear()
        self._pool_of.clear()
        self._rotations.clear()
