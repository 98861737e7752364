"""`GET /v1/metrics`: the agent's metrics in Nomad's JSON (`Gauges`, `Counters`, `Samples`)
or, with `?format=prometheus`, in Prometheus' text format (prometheus_client's exposition).

Three sources, merged per scrape: the process's counters and histograms
(`reconciler.metrics`: etcd requests, controllers, the scheduler), the API's own request
counts and latencies by route (the middleware below), and the cluster's state, computed
when scraped from the API's watched caches, so a scrape sends etcd nothing
(`cluster_metrics`: Nomad's `job_summary` gauges, nodes, allocations and evaluations by
status). docs/metrics.md lists every name.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
import weakref
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reconciler.api.errors import ApiError
from reconciler.api.reads import job_summary, statuses
from reconciler.api.views import watched
from reconciler.api.watched import WatchedState
from reconciler.metrics import LATENCY
from reconciler.model.alloc_status import client_status

routes = web.RouteTableDef()

HTTP_REQUESTS = Counter(
    "reconciler_http_requests",
    "API requests by route pattern, method and status",
    ["route", "method", "status"],
)
HTTP_SECONDS = Histogram(
    "reconciler_http_request_seconds",
    "API request latency by route pattern",
    ["route", "method"],
    buckets=LATENCY,
)

SUMMARY_FIELDS = ("queued", "starting", "running", "failed", "complete", "lost", "unknown")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def route_of(request: web.Request) -> str:
    """The route's pattern (`/v1/job/{job_id}`), never the raw path: one series per route."""
    info = request.match_info
    resource = info.route.resource if info is not None else None
    return resource.canonical if resource is not None else "unmatched"


class _Series:
    """One route, method and status's request counter and latency histogram, looked up by
    label once: every request of a thousand answered together pays a dictionary lookup, not
    two of prometheus_client's label lookups (each takes a lock and builds a tuple)."""

    def __init__(self, route: str, method: str, status: int) -> None:
        self.requests = HTTP_REQUESTS.labels(route, method, str(status))
        self.seconds = HTTP_SECONDS.labels(route, method)

    def count(self, seconds: float) -> None:
        self.requests.inc()
        self.seconds.observe(seconds)


_SERIES: dict[tuple[str, str, int], _Series] = {}  # bounded: routes x methods x statuses


def _series(route: str, method: str, status: int) -> _Series:
    key = (route, method, status)
    got = _SERIES.get(key)
    if got is None:
        got = _SERIES[key] = _Series(route, method, status)
    return got


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        resp = await handler(request)
        status = resp.status
        return resp
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        _series(route_of(request), request.method, status).count(time.perf_counter() - started)


# --- the cluster's state, when scraped ---------------------------------------------------------


def cluster_metrics(w: WatchedState) -> list[Metric]:
    """Gauges of the cluster's state, from the API's watched caches (no etcd request): per
    job and task group Nomad's `job_summary` counts, allocations by client status, nodes by
    status and eligibility, evaluations by status (`blocked` is Nomad's blocked
    evaluations), check results per service."""
    labels = ["job", "task_group", "namespace"]
    summary = {
        f: GaugeMetricFamily(
            f"nomad_nomad_job_summary_{f}", f"allocations {f}, per job and group", labels=labels
        )
        for f in SUMMARY_FIELDS
    }
    for r in w.jobs.items():
        for group, counts in job_summary(w, r).groups.items():
            for f in SUMMARY_FIELDS:
                summary[f].add_metric([r.id, group, r.namespace], getattr(counts, f, 0))
    by_status = Tally(str(e.status) for e in w.evals.items())
    blocked = GaugeMetricFamily("nomad_nomad_blocked_evals_total_blocked", "blocked evaluations")
    blocked.add_metric([], by_status.get("blocked", 0))
    return [
        *summary.values(),
        _gauge("reconciler_allocations", "allocations by client status", ["status"], _alloc_counts(w)),
        _gauge(
            "reconciler_nodes",
            "nodes by status and eligibility",
            ["status", "eligibility"],
            Tally((str(n.status), str(n.eligibility)) for n in w.nodes.list()),
        ),
        _gauge("reconciler_evaluations", "evaluations by status", ["status"], Tally(by_status)),
        blocked,
        _gauge(
            "reconciler_checks",
            "health checks by their last result, per service",
            ["service", "status"],
            Tally((c.service_name, str(c.status)) for c in w.checks.list()),
        ),
    ]


def _alloc_counts(w: WatchedState) -> Tally[tuple[str, ...]]:
    by_id = statuses(w)
    return Tally((str(client_status(a, by_id)),) for a in w.allocs.items())


def _gauge(name: str, doc: str, labels: list[str], counts: Tally[Any]) -> GaugeMetricFamily:
    """One gauge family of counts, a sample per label tuple (or single label), sorted."""
    g = GaugeMetricFamily(name, doc, labels=labels)
    for key, n in sorted(counts.items()):
        g.add_metric(list(key) if isinstance(key, tuple) else [key], n)
    return g


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


_cluster_lock = threading.Lock()
_cluster_cache: weakref.WeakKeyDictionary[WatchedState, tuple[tuple[int, ...], list[Metric]]] = (
    weakref.WeakKeyDictionary()
)


def _revisions(w: WatchedState) -> tuple[int, ...]:
    return (
        w.jobs.index,
        w.allocs.index,
        w.statuses.index,
        w.evals.index,
        w.nodes.revision,
        w.checks.revision,
    )


def cached_cluster_metrics(w: WatchedState) -> list[Metric]:
    """`cluster_metrics`, computed once per state of the caches: it walks every allocation,
    and scrapes of an unchanged cluster (two scrapers, or the JSON and the text format)
    should not each pay for it."""
    with _cluster_lock:
        revs = _revisions(w)
        hit = _cluster_cache.get(w)
        if hit is not None and hit[0] == revs:
            return hit[1]
        fresh = cluster_metrics(w)
        _cluster_cache[w] = (revs, fresh)
        return fresh


def scrape(w: WatchedState) -> CollectorRegistry:
    """One scrape's registry: the process's metrics and the cluster's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(REGISTRY)  # a registry is a collector of its metrics
    registry.register(_Fixed(cached_cluster_metrics(w)))
    return registry


# --- Nomad's JSON ----------------------------------------------------------------------------


def _nomad_name(name: str) -> str:
    """Nomad's dotted name where it has one (`nomad.nomad.job_summary.running`), else ours."""
    if name.startswith("nomad_nomad_job_summary_"):
        return "nomad.nomad.job_summary." + name.removeprefix("nomad_nomad_job_summary_")
    return name


def nomad_json(registry: CollectorRegistry, now: dt.datetime) -> dict[str, Any]:
    """Nomad's `/v1/metrics` shape: gauges by value; counters and histograms as go-metrics
    samples (Count, Sum, Mean; a counter's Count and Sum are its total)."""
    gauges: list[dict[str, Any]] = []
    counters: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    for family in registry.collect():
        if family.type == "gauge":
            for s in family.samples:
                gauges.append({"Name": _nomad_name(s.name), "Value": s.value, "Labels": s.labels})
        elif family.type == "counter":
            for s in family.samples:
                if s.name.endswith("_total"):
                    counters.append(_sample(family.name, s.labels, s.value, s.value))
        elif family.type in ("histogram", "summary"):
            counts = {_key(s.labels): s.value for s in family.samples if s.name.endswith("_count")}
            for s in family.samples:
                if s.name.endswith("_sum"):
                    samples.append(_sample(family.name, s.labels, counts.get(_key(s.labels), 0.0), s.value))
    return {
        "Timestamp": now.strftime("%Y-%m-%d %H:%M:%S +0000 UTC"),
        "Gauges": gauges,
        "Counters": counters,
        "Samples": samples,
        "Points": [],
    }


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _sample(name: str, labels: dict[str, str], count: float, total: float) -> dict[str, Any]:
    mean = total / count if count else 0.0
    return {
        "Name": name,
        "Count": int(count),
        "Sum": total,
        "Mean": mean,
        "Min": 0.0,
        "Max": 0.0,
        "Rate": 0.0,
        "Stddev": 0.0,
        "Labels": labels,
    }


@routes.get("/v1/metrics")
async def metrics(request: web.Request) -> web.Response:
    fmt = request.query.get("format", "")
    if fmt not in ("", "json", "prometheus"):
        raise ApiError(400, f'format must be "prometheus" or "json", got {fmt!r}', field="format")
    w = watched(request)
    await w.fence()  # this agent's own writes are counted
    registry = await asyncio.to_thread(scrape, w)
    if fmt == "prometheus":
        body = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
    out = await asyncio.to_thread(nomad_json, registry, dt.datetime.now(dt.UTC))
    return web.json_response(out)
