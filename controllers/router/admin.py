"""The router's admin endpoint (Fabio has a UI on :9998): the live table as JSON
(`GET /routes`, also `/api/routes` as Fabio names it), as a small HTML page (`GET /`),
`GET /health`, and `GET /metrics` in Prometheus' text format (the data path's plain counters,
`stats.RouterStats`, turned into samples when scraped). A separate port, so no route can
shadow it; a plain aiohttp app, since it serves people and probes, not traffic."""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from controllers.router.stats import BOUNDS, RouterStats
from controllers.router.table import RouteTable, describe


def text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


class RouterCollector(Collector):
    """The router's counters and its table's size, as Prometheus samples, at scrape time."""

    def __init__(self, table: Callable[[], RouteTable], stats: RouterStats) -> None:
        self.table = table
        self.stats = stats

    def collect(self) -> Iterable[Metric]:
        responses = CounterMetricFamily(
            "reconciler_router_responses",
            "responses sent to clients (the backend's, or the router's own 404/502/503)",
            labels=["route", "service", "status"],
        )
        for (host, path, service, status), n in sorted(self.stats.responses.items()):
            responses.add_metric([f"{host}{path}", service, str(status)], n)
        errors = CounterMetricFamily(
            "reconciler_router_upstream_errors",
            "instances that refused, reset, timed out or sent garbage",
            labels=["service", "instance"],
        )
        for (service, address, port), n in sorted(self.stats.upstream_errors.items()):
            errors.add_metric([service, f"{address}:{port}"], n)
        latency = HistogramMetricFamily(
            "reconciler_router_response_seconds",
            "from a request's start to its response's head leaving for the client",
            labels=["route", "service"],
        )
        for (host, path, service), h in sorted(self.stats.latency.items()):
            cumulative, buckets = 0.0, []
            for le, count in zip([*map(str, BOUNDS), "+Inf"], h[:-1], strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            latency.add_metric([f"{host}{path}", service], buckets, h[-1])
        retries = CounterMetricFamily("reconciler_router_retries", "requests tried again on an instance")
        retries.add_metric([], self.stats.retries)
        table = self.table()
        routes = GaugeMetricFamily("reconciler_router_routes", "routes in the table")
        routes.add_metric([], len(table.routes))
        targets = GaugeMetricFamily("reconciler_router_targets", "healthy instances behind the routes")
        targets.add_metric([], sum(len(r.targets) for r in table.routes))
        return [responses, latency, errors, retries, routes, targets]


def admin_app(table: Callable[[], RouteTable], stats: RouterStats | None = None) -> web.Application:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RouterCollector(table, stats or RouterStats()))

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4}
        )

    async def routes(request: web.Request) -> web.Response:
        return web.Response(
            text=json.dumps(describe(table()), indent=2) + "\n", content_type="application/json"
        )

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="OK\n")

    async def page(request: web.Request) -> web.Response:
        rows = []
        for r in describe(table()):
            cells = [
                text(r["host"]) or "*",
                text(r["path"]),
                text(r["service"]),
                text(r.get("options", "")),
                text(r["targets"]) or "(no healthy instance)",
                text(r.get("errors", "")),
            ]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        body = (
            "<!doctype html><meta charset=utf-8><title>routes</title>"
            "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}</style>"
            "<h1>Routes</h1><table><tr><th>host</th><th>path</th><th>service</th><th>options</th>"
            "<th>targets</th><th>problems</th></tr>" + "".join(rows) + "</table>"
            '<p><a href="/routes">JSON</a></p>'
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/routes", routes)
    app.router.add_get("/api/routes", routes)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app
