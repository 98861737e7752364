"""The router's counters, kept cheap for the data path: plain ints in dicts, bumped inline on
the event loop's thread (no locks, no label lookups; the keys are tuples of the route's own
strings, whose hashes Python caches); the admin port's `/metrics` turns them into Prometheus
samples when scraped (`admin.RouterCollector`)."""

from __future__ import annotations

from controllers.router.table import Route, Target

NO_ROUTE = ("", "", "")


class RouterStats:
    def __init__(self) -> None:
        self.responses: dict[tuple[str, str, str, int], int] = {}  # (host, path, service, status) -> n
        self.upstream_errors: dict[tuple[str, str, int], int] = {}  # (service, address, port) -> failures
        self.retries = 0

    def response(self, route: Route | None, status: int) -> None:
        """A response went to a client: the backend's, or the router's own (404, 502, 503)."""
        host, path, service = (route.host, route.path, route.service) if route is not None else NO_ROUTE
        key = (host, path, service, status)
        self.responses[key] = self.responses.get(key, 0) + 1

    def upstream_failed(self, target: Target) -> None:
        key = (target.service, target.address, target.port)
        self.upstream_errors[key] = self.upstream_errors.get(key, 0) + 1
