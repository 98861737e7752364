"""`GET /v1/metrics`: the agent's metrics in Nomad's JSON (`Gauges`, `Counters`, `Samples`)
or, with `?format=prometheus`, in Prometheus' text format (prometheus_client's exposition).

Three sources, merged per scrape: the process's counters and histograms
(`reconciler.metrics`: etcd requests, controllers, the scheduler), the API's own request
counts and latencies by route (the middleware below), and the cluster's state, computed
when scraped from one read of etcd (`cluster_metrics`: Nomad's `job_summary` gauges, nodes,
allocations and evaluations by status). docs/metrics.md lists every name.
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

from reconciler.api.context import CTX
from reconciler.api.errors import ApiError
from reconciler.metrics import LATENCY
from reconciler.model.alloc_status import client_status
from reconciler.model.objects import Allocation, AllocStatus, Evaluation, JobRecord, Node
from reconciler.model.services import CheckStatus
from reconciler.model.summary import summarize
from reconciler.store import Store

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
        route = route_of(request)
        HTTP_REQUESTS.labels(route, request.method, str(status)).inc()
        HTTP_SECONDS.labels(route, request.method).observe(time.perf_counter() - started)


# --- the cluster's state, when scraped ---------------------------------------------------------


def cluster_metrics(store: Store) -> list[Metric]:
    """Gauges of what etcd holds now: per job and task group Nomad's `job_summary` counts,
    allocations by client status, nodes by status and eligibility, evaluations by status
    (`blocked` is Nomad's blocked evaluations), check results per service."""
    keys = store.keys
    records = [r.value for r in store.list(keys.jobs, JobRecord)[0]]
    allocs = [v.value for v in store.list(keys.allocs, Allocation)[0]]
    statuses = {v.value.alloc_id: v.value for v in store.list(keys.alloc_statuses, AllocStatus)[0]}
    evals = [v.value for v in store.list(keys.evals, Evaluation)[0]]
    nodes = [v.value for v in store.list(keys.nodes, Node)[0]]
    labels = ["job", "task_group", "namespace"]
    summary = {
        f: GaugeMetricFamily(
            f"nomad_nomad_job_summary_{f}", f"allocations {f}, per job and group", labels=labels
        )
        for f in SUMMARY_FIELDS
    }
    by_job: dict[tuple[str, str], list[Any]] = {}
    for a in allocs:
        by_job.setdefault((a.namespace, a.job_id), []).append(a)
    evals_of: dict[tuple[str, str], list[Any]] = {}
    for e in evals:
        evals_of.setdefault((e.namespace, e.job_id), []).append(e)
    for r in records:
        k = (r.namespace, r.id)
        s = summarize(r.job, by_job.get(k, []), statuses, evals_of.get(k, []), stopped=r.stop)
        for group, counts in s.groups.items():
            for f in SUMMARY_FIELDS:
                summary[f].add_metric([r.id, group, r.namespace], getattr(counts, f, 0))
    by_client = Tally(str(client_status(a, statuses)) for a in allocs)
    alloc_g = GaugeMetricFamily("reconciler_allocations", "allocations by client status", labels=["status"])
    for status, n in sorted(by_client.items()):
        alloc_g.add_metric([status], n)
    node_g = GaugeMetricFamily(
        "reconciler_nodes", "nodes by status and eligibility", labels=["status", "eligibility"]
    )
    for (status, elig), n in sorted(Tally((str(n.status), str(n.eligibility)) for n in nodes).items()):
        node_g.add_metric([status, elig], n)
    eval_g = GaugeMetricFamily("reconciler_evaluations", "evaluations by status", labels=["status"])
    by_status = Tally(str(e.status) for e in evals)
    for status, n in sorted(by_status.items()):
        eval_g.add_metric([status], n)
    blocked = GaugeMetricFamily("nomad_nomad_blocked_evals_total_blocked", "blocked evaluations")
    blocked.add_metric([], by_status.get("blocked", 0))
    return [*summary.values(), alloc_g, node_g, eval_g, blocked, _checks(store)]


def _checks(store: Store) -> Metric:
    checks = [c.value for c in store.list(store.keys.checks, CheckStatus)[0]]
    g = GaugeMetricFamily(
        "reconciler_checks", "health checks by their last result, per service", labels=["service", "status"]
    )
    for (service, status), n in sorted(Tally((c.service_name, str(c.status)) for c in checks).items()):
        g.add_metric([service, status], n)
    return g


class _Fixed(Collector):
    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        return self.metrics


CLUSTER_MAX_AGE = 5.0  # seconds: scrapes closer together share one read of the cluster
_cluster_lock = threading.Lock()
_cluster_cache: weakref.WeakKeyDictionary[Store, tuple[float, list[Metric]]] = weakref.WeakKeyDictionary()


def cached_cluster_metrics(store: Store) -> list[Metric]:
    """`cluster_metrics`, read at most once per CLUSTER_MAX_AGE seconds: it decodes every
    allocation (about 1.5 s for 10,000 on the development VM, docs/benchmarks.md), and two
    scrapers (or the JSON and the text format) should not each pay for it."""
    with _cluster_lock:
        hit = _cluster_cache.get(store)
        if hit is not None and time.monotonic() - hit[0] < CLUSTER_MAX_AGE:
            return hit[1]
        fresh = cluster_metrics(store)
        _cluster_cache[store] = (time.monotonic(), fresh)
        return fresh


def scrape(store: Store) -> CollectorRegistry:
    """One scrape's registry: the process's metrics and the cluster's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(REGISTRY)  # a registry is a collector of its metrics
    registry.register(_Fixed(cached_cluster_metrics(store)))
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
    store = request.app[CTX].store
    fmt = request.query.get("format", "")
    if fmt not in ("", "json", "prometheus"):
        raise ApiError(400, f'format must be "prometheus" or "json", got {fmt!r}', field="format")
    registry = await asyncio.to_thread(scrape, store)
    if fmt == "prometheus":
        body = await asyncio.to_thread(generate_latest, registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
    out = await asyncio.to_thread(nomad_json, registry, dt.datetime.now(dt.UTC))
    return web.json_response(out)
