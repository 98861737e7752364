"""The router's counters, kept cheap for the data path: plain ints in lists, bumped inline on
the event loop's thread (no locks, no label lookups). Each (route, status) has its own
one-int cell and each route its own histogram list, both handed out once (`cell`,
`histogram`) and kept by the fast path (`repeated.FastPlan`), so a repeated request's
response is counted without building or hashing a key; the admin port's `/metrics` sums
them into Prometheus samples when scraped (`admin.RouterCollector`, through `responses`)."""

from __future__ import annotations

import time
from bisect import bisect_left

from controllers.router.table import Route, Target

NO_ROUTE = ("", "", "")
# latency bucket bounds (seconds), as reconciler.metrics.LATENCY up to 10 s; then +Inf
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RouteKey = tuple[str, str, str]  # (host, path, service)


def route_key(route: Route | None) -> RouteKey:
    return (route.host, route.path, route.service) if route is not None else NO_ROUTE


class RouterStats:
    def __init__(self) -> None:
        # (host, path, service, status) -> a one-int cell (see `cell`)
        self.cells: dict[tuple[str, str, str, int], list[int]] = {}
        self.upstream_errors: dict[tuple[str, str, int], int] = {}  # (service, address, port) -> failures
        # (host, path, service) -> counts per bucket of BOUNDS, the +Inf bucket, then the sum
        self.latency: dict[RouteKey, list[float]] = {}
        self.retries = 0

    @property
    def responses(self) -> dict[tuple[str, str, str, int], int]:
        """Responses per (host, path, service, status), summed when asked (a scrape)."""
        return {key: cell[0] for key, cell in self.cells.items()}

    def cell(self, rkey: RouteKey, status: int) -> list[int]:
        """The counter of a route's responses with `status`: one int in a list, kept by whoever
        counts often (`cell[0] += 1`)."""
        key = (*rkey, status)
        c = self.cells.get(key)
        if c is None:
            c = self.cells[key] = [0]
        return c

    def histogram(self, rkey: RouteKey) -> list[float]:
        """A route's latency histogram: counts per bucket of BOUNDS, +Inf, then the sum."""
        h = self.latency.get(rkey)
        if h is None:
            h = self.latency[rkey] = [0.0] * (len(BOUNDS) + 2)
        return h

    def response(self, route: Route | None, status: int, born: float) -> None:
        """A response's head went to a client (the backend's, or the router's own 404, 502,
        503), `born` (time.monotonic) being when its request began."""
        rkey = route_key(route)
        self.cell(rkey, status)[0] += 1
        elapsed = time.monotonic() - born
        h = self.histogram(rkey)
        h[bisect_left(BOUNDS, elapsed)] += 1
        h[-1] += elapsed

    def upstream_failed(self, target: Target) -> None:
        key = (target.service, target.address, target.port)
        self.upstream_errors[key] = self.upstream_errors.get(key, 0) + 1
