"""The process's metrics, on prometheus_client's default registry: defined here, below every
layer (it imports nothing of reconciler), so the store, the runtime and the controllers can
count without importing the API; `reconciler.api.metrics` serves them (Prometheus text or
Nomad's JSON) with the cluster gauges it computes at scrape time. docs/metrics.md lists them.

Hot paths only touch a counter or a histogram (a lock and an add); whatever needs a walk over
state (queue depths, allocations by status) is computed by a collector when scraped.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sized

from prometheus_client import REGISTRY, Counter, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# no `_created` series beside every counter: Nomad has none, and scrapes stay small
disable_created_metrics()  # type: ignore[no-untyped-call]

# buckets from 1 ms to 30 s: etcd round trips, reconciles, scheduler passes, API requests
LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

ETCD_SECONDS = Histogram(
    "reconciler_etcd_request_seconds", "etcd requests by operation, each attempt", ["op"], buckets=LATENCY
)
ETCD_ERRORS = Counter(
    "reconciler_etcd_request_errors", "etcd requests that failed, by operation and error", ["op", "error"]
)

RECONCILE_SECONDS = Histogram(
    "reconciler_controller_reconcile_seconds", "one reconcile of one key", ["controller"], buckets=LATENCY
)
RECONCILE_ERRORS = Counter(
    "reconciler_controller_reconcile_errors", "reconciles that raised (retried with backoff)", ["controller"]
)
RECONCILE_RETRIES = Counter(
    "reconciler_controller_retries", "keys put back on a queue after a failure", ["controller"]
)

EVALS_PROCESSED = Counter(
    "nomad_nomad_worker_evaluations_processed", "evaluations a scheduler pass completed or blocked"
)
PLACEMENTS = Counter("reconciler_scheduler_placements", "allocations placed by the scheduler")
PLACEMENT_FAILURES = Counter(
    "reconciler_scheduler_placement_failures", "task groups the scheduler could not place in a pass"
)
SCHEDULE_SECONDS = Histogram(
    "nomad_nomad_worker_invoke_scheduler_seconds",
    "one scheduler pass over a job: decide and write",
    buckets=LATENCY,
)


def scheduled(evaluations: int, placed: int, failed_groups: int, seconds: float) -> None:
    """One scheduler pass over a job (the scheduler calls it after its writes)."""
    EVALS_PROCESSED.inc(evaluations)
    PLACEMENTS.inc(placed)
    PLACEMENT_FAILURES.inc(failed_groups)
    SCHEDULE_SECONDS.observe(seconds)


class _Queues(Collector):
    """The depth of every live controller's work queue, read when scraped. Controllers
    register their queue by name; a stopped controller's queue is dropped with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: weakref.WeakValueDictionary[str, Sized] = weakref.WeakValueDictionary()

    def register(self, controller: str, queue: Sized) -> None:
        with self._lock:
            self._queues[controller] = queue

    def collect(self) -> Iterable[Metric]:
        g = GaugeMetricFamily(
            "reconciler_controller_queue_depth",
            "keys waiting in a controller's work queue",
            labels=["controller"],
        )
        with self._lock:
            live = list(self._queues.items())
        for name, queue in sorted(live):
            g.add_metric([name], len(queue))
        yield g


QUEUES = _Queues()
REGISTRY.register(QUEUES)


def register_collector(collector: Collector) -> Callable[[], None]:
    """Add a collector to the default registry; returns its removal (for a component that stops)."""
    REGISTRY.register(collector)
    return lambda: REGISTRY.unregister(collector)
