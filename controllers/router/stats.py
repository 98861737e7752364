"""The router's counters, kept cheap for the data path: plain ints in dicts, bumped inline on
the event loop's thread (no locks, no label lookups; the keys are tuples of the route's own
strings, whose hashes Python caches); the admin port's `/metrics` turns them into Prometheus
samples when scraped (`admin.RouterCollector`)."""

from __future__ import annotations

import time
from bisect import bisect_left

from controllers.router.table import Route, Target

NO_ROUTE = ("", "", "")
# latency bucket bounds (seconds), as reconciler.metrics.LATENCY up to 10 s; then +Inf
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RouterStats:
    def __init__(self) -> None:
        self.responses: dict[tuple[str, str, str, int], int] = {}  # (host, path, service, status) -> n
        self.upstream_errors: dict[tuple[str, str, int], int] = {}  # (service, address, port) -> failures
        # (host, path, service) -> counts per bucket of BOUNDS, the +Inf bucket, then the sum
        self.latency: dict[tuple[str, str, str], list[float]] = {}
        self.retries = 0

    def response(self, route: Route | None, status: int, born: float) -> None:
        """A response's head went to a client (the backend's, or the router's own 404, 502,
        503), `born` (time.monotonic) being when its request began."""
        rkey = (route.host, route.path, route.service) if route is not None else NO_ROUTE
        key = (*rkey, status)
        self.responses[key] = self.responses.get(key, 0) + 1
        elapsed = time.monotonic() - born
        h = self.latency.get(rkey)
        if h is None:
            h = self.latency[rkey] = [0.0] * (len(BOUNDS) + 2)
        h[bisect_left(BOUNDS, elapsed)] += 1
        h[-1] += elapsed

    def upstream_failed(self, target: Target) -> None:
        key = (target.service, target.address, target.port)
        self.upstream_errors[key] = self.upstream_errors.get(key, 0) + 1
