"""The metrics' collectors and shapes: Nomad's JSON from a registry (table-driven), the
cluster gauges over real etcd, the router's counters, and the counters the store, the
controller runtime and the API bump as they work."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from controllers.router import Router
from controllers.router.admin import RouterCollector
from controllers.router.stats import RouterStats
from controllers.router.table import Route, RouteTable, Target
from reconciler import metrics
from reconciler.api.metrics import cluster_metrics, nomad_json
from reconciler.api.watched import WatchedState
from reconciler.model.ids import AllocId, EvalId, NodeId
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    EvalStatus,
    Evaluation,
    Node,
    NodeStatus,
)
from reconciler.model.services import CheckState, CheckStatus
from reconciler.ops.jobs import submit_job
from reconciler.runtime import Controller
from reconciler.store import Store
from tests.api.server import ApiServer, make_server
from tests.factories import submitted_job
from tests.router.backend import Backend
from tests.router.catalog import get, register, targets
from tests.waiting import wait_for

NOW = dt.datetime(2026, 12, 1, 23, 0, 0, tzinfo=dt.UTC)


def _registry(kind: str) -> CollectorRegistry:
    reg = CollectorRegistry()
    if kind == "gauge":
        Gauge("jobs_running", "x", ["job"], registry=reg).labels("todo").set(3)
    elif kind == "counter":
        Counter("evals", "x", registry=reg).inc(4)
    else:
        h = Histogram("latency_seconds", "x", ["route"], registry=reg)
        h.labels("/v1/jobs").observe(0.5)
        h.labels("/v1/jobs").observe(1.5)
    return reg


@pytest.mark.parametrize(
    ("kind", "section", "expected"),
    [
        pytest.param(
            "gauge", "Gauges", {"Name": "jobs_running", "Value": 3.0, "Labels": {"job": "todo"}}, id="gauge"
        ),
        pytest.param(
            "counter", "Counters", {"Name": "evals", "Count": 4, "Sum": 4.0, "Labels": {}}, id="counter"
        ),
        pytest.param(
            "histogram",
            "Samples",
            {"Name": "latency_seconds", "Count": 2, "Sum": 2.0, "Mean": 1.0, "Labels": {"route": "/v1/jobs"}},
            id="histogram",
        ),
    ],
)
def test_nomad_json_shape(kind: str, section: str, expected: dict[str, Any]) -> None:
    out = nomad_json(_registry(kind), NOW)
    assert out["Timestamp"] == "2026-12-01 23:00:00 +0000 UTC"
    (got,) = out[section]
    assert {k: got[k] for k in expected} == expected
    others = {"Gauges", "Counters", "Samples"} - {section}
    assert all(out[s] == [] for s in others)


def test_nomad_json_uses_nomads_dotted_job_summary_names() -> None:
    reg = CollectorRegistry()
    Gauge("nomad_nomad_job_summary_running", "x", registry=reg).set(1)
    assert nomad_json(reg, NOW)["Gauges"][0]["Name"] == "nomad.nomad.job_summary.running"


def _alloc(i: int, job: str = "todo") -> Allocation:
    return Allocation(
        id=AllocId(f"{job}-{i}"),
        namespace="default",
        job_id=job,
        job_version=0,
        task_group="web",
        name=f"{job}.web[{i}]",
        index=i,
        node_id=NodeId("n1"),
    )


def _samples(families: list[Any]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples}


def test_cluster_gauges_count_what_the_caches_hold(store: Store) -> None:
    submit_job(store, submitted_job("todo", count=3))
    for i, status in enumerate([ClientStatus.RUNNING, ClientStatus.RUNNING, ClientStatus.FAILED]):
        a = _alloc(i)
        store.put(store.keys.alloc(a.id), a)
        store.put(
            store.keys.alloc_status(a.id), AllocStatus(alloc_id=a.id, node_id=a.node_id, client_status=status)
        )
    store.put(store.keys.node("n1"), Node(id=NodeId("n1"), name="n1"))
    store.put(store.keys.node("n2"), Node(id=NodeId("n2"), name="n2", status=NodeStatus.DOWN))
    blocked = Evaluation(
        id=EvalId("e-blocked"), namespace="default", job_id="x", triggered_by="t", status=EvalStatus.BLOCKED
    )
    store.put(store.keys.eval(blocked.id), blocked)

    for alloc, state in (("todo-0", CheckState.PASSING), ("todo-1", CheckState.CRITICAL)):
        st = CheckStatus(alloc_id=alloc, check_id="c", check_name="alive", service_name="todo", status=state)
        store.put(store.keys.check(alloc, "c"), st)

    w = WatchedState(store)
    w.start()  # lists everything written above
    try:
        got = _samples(cluster_metrics(w))
    finally:
        w.stop()
    group = (("job", "todo"), ("namespace", "default"), ("task_group", "web"))
    assert got[("nomad_nomad_job_summary_running", group)] == 2
    assert got[("nomad_nomad_job_summary_failed", group)] == 1
    assert got[("reconciler_allocations", (("status", "running"),))] == 2
    assert got[("reconciler_nodes", (("eligibility", "eligible"), ("status", "ready")))] == 1
    assert got[("reconciler_nodes", (("eligibility", "eligible"), ("status", "down")))] == 1
    assert got[("nomad_nomad_blocked_evals_total_blocked", ())] == 1
    assert got[("reconciler_checks", (("service", "todo"), ("status", "critical")))] == 1
    assert got[("reconciler_checks", (("service", "todo"), ("status", "passing")))] == 1


def test_router_collector_turns_plain_counters_into_samples() -> None:
    route = Route(host="", path="/todo", service="todo", targets=(Target("todo", "a1", "127.0.0.1", 8080),))
    stats = RouterStats()
    for status in (200, 200, 502):
        stats.response(route, status, time.monotonic())
    stats.response(None, 404, time.monotonic() - 60)
    stats.upstream_failed(route.targets[0])
    stats.retries += 2
    got = _samples(list(RouterCollector(lambda: RouteTable(routes=(route,)), stats).collect()))
    assert (
        got[
            (
                "reconciler_router_responses_total",
                (("route", "/todo"), ("service", "todo"), ("status", "200")),
            )
        ]
        == 2
    )
    assert (
        got[("reconciler_router_responses_total", (("route", ""), ("service", ""), ("status", "404")))] == 1
    )
    assert (
        got[
            ("reconciler_router_upstream_errors_total", (("instance", "127.0.0.1:8080"), ("service", "todo")))
        ]
        == 1
    )
    assert got[("reconciler_router_retries_total", ())] == 2
    assert got[("reconciler_router_routes", ())] == 1
    todo = (("route", "/todo"), ("service", "todo"))
    assert got[("reconciler_router_response_seconds_count", todo)] == 3
    assert got[("reconciler_router_response_seconds_bucket", (("le", "+Inf"), *todo))] == 3
    assert (
        got[("reconciler_router_response_seconds_bucket", (("le", "10.0"), ("route", ""), ("service", "")))]
        == 0
    )
    assert got[("reconciler_router_response_seconds_sum", (("route", ""), ("service", "")))] >= 60
    assert got[("reconciler_router_targets", ())] == 1


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_store_times_and_counts_its_etcd_requests(store: Store) -> None:
    before = _value("reconciler_etcd_request_seconds_count", op="get")
    txns = _value("reconciler_etcd_request_seconds_count", op="txn")
    store.put(store.keys.node("n1"), Node(id=NodeId("n1"), name="n1"))
    store.get(store.keys.node("n1"), Node)
    assert _value("reconciler_etcd_request_seconds_count", op="get") == before + 1
    assert _value("reconciler_etcd_request_seconds_count", op="txn") == txns + 1


class _Flaky(Controller):
    name = "metrics-test"

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.calls = 0

    def reconcile(self, key: str) -> None:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("first try fails")


def test_the_controller_runtime_counts_reconciles_errors_and_retries(store: Store) -> None:
    errors = _value("reconciler_controller_reconcile_errors_total", controller="metrics-test")
    runs = _value("reconciler_controller_reconcile_seconds_count", controller="metrics-test")
    c = _Flaky(store)
    c.start()
    try:
        c.enqueue("k")
        wait_for(lambda: c.calls >= 2, message="the retry")
        wait_for(
            lambda: (
                _value("reconciler_controller_reconcile_seconds_count", controller="metrics-test") >= runs + 2
            )
        )
        assert _value("reconciler_controller_reconcile_errors_total", controller="metrics-test") == errors + 1
        assert _value("reconciler_controller_retries_total", controller="metrics-test") >= 1
        depth = REGISTRY.get_sample_value("reconciler_controller_queue_depth", {"controller": "metrics-test"})
        assert depth == 0
    finally:
        c.stop()


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[ApiServer]:
    server = make_server(store, tmp_path)
    yield server
    server.stop()


def test_the_api_counts_requests_by_route_pattern(api: ApiServer, store: Store) -> None:
    route = {"route": "/v1/job/{job_id}", "method": "GET"}
    before = _value("reconciler_http_requests_total", **route, status="404")
    for job in ("a", "b"):
        api.call("GET", f"/v1/job/{job}")
    assert _value("reconciler_http_requests_total", **route, status="404") == before + 2
    assert _value("reconciler_http_request_seconds_count", **route) >= 2


def test_v1_metrics_in_both_formats(api: ApiServer, store: Store) -> None:
    submit_job(store, submitted_job("todo"))
    status, out = api.call("GET", "/v1/metrics")
    assert status == 200
    names = {g["Name"] for g in out["Gauges"]}
    assert "nomad.nomad.job_summary.queued" in names
    assert any(s["Name"] == "reconciler_etcd_request_seconds" for s in out["Samples"])
    with urllib.request.urlopen(api.address + "/v1/metrics?format=prometheus", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    assert 'nomad_nomad_job_summary_queued{job="todo",namespace="default",task_group="web"} 0.0' in text
    assert "reconciler_http_requests_total{" in text
    assert api.call("GET", "/v1/metrics?format=xml")[0] == 400


def _etcd_requests() -> float:
    return sum(
        s.value
        for f in REGISTRY.collect()
        if f.name == "reconciler_etcd_request_seconds"
        for s in f.samples
        if s.name.endswith("_count")
    )


def test_a_scrape_reads_the_caches_and_sends_etcd_nothing(api: ApiServer, store: Store) -> None:
    submit_job(store, submitted_job("todo"))
    a = _alloc(0)
    store.put(store.keys.alloc(a.id), a)
    store.put(
        store.keys.alloc_status(a.id), AllocStatus(alloc_id=a.id, node_id=a.node_id, client_status="failed")
    )
    before = _etcd_requests()
    status, out = api.call("GET", "/v1/metrics")  # fenced: it counts the writes above
    assert status == 200
    assert _etcd_requests() == before
    gauges = {(g["Name"], tuple(sorted(g["Labels"].items()))): g["Value"] for g in out["Gauges"]}
    assert gauges[("reconciler_allocations", (("status", "failed"),))] == 1
    group = (("job", "todo"), ("namespace", "default"), ("task_group", "web"))
    assert gauges[("nomad.nomad.job_summary.failed", group)] == 1
    # a change shows in the next scrape, without waiting out a cache's age
    store.put(
        store.keys.alloc_status(a.id), AllocStatus(alloc_id=a.id, node_id=a.node_id, client_status="running")
    )
    before = _etcd_requests()
    text = api.call("GET", "/v1/metrics?format=prometheus")[1]
    assert _etcd_requests() == before
    assert 'reconciler_allocations{status="running"} 1.0' in text
    assert 'reconciler_allocations{status="failed"}' not in text


def test_the_routers_admin_serves_its_counters(store: Store) -> None:
    r = Router(store, port=0, admin_port=0)
    r.start()
    try:
        with Backend("a") as a:
            register(store, a, "alloc-a", ["urlprefix-/m"], check=None)
            wait_for(lambda: targets(r, "/m") == 1)
            conn = http.client.HTTPConnection("127.0.0.1", r.bound_port, timeout=5)
            assert get(conn, "/m")[0] == 200
            assert get(conn, "/nowhere-routed")[0] == 404
            conn.close()
            with urllib.request.urlopen(f"http://127.0.0.1:{r.bound_admin_port}/metrics", timeout=10) as resp:
                text = resp.read().decode()
        assert 'reconciler_router_responses_total{route="/m",service="web",status="200"} 1.0' in text
        assert 'reconciler_router_responses_total{route="",service="",status="404"} 1.0' in text
        assert "reconciler_router_routes 1.0" in text
        assert 'reconciler_router_response_seconds_count{route="/m",service="web"} 1.0' in text
        assert json.loads(
            urllib.request.urlopen(f"http://127.0.0.1:{r.bound_admin_port}/routes", timeout=10).read()
        )
    finally:
        r.stop()


def test_queue_depths_are_read_when_scraped() -> None:
    queue = [1, 2, 3]

    class Sized(list[int]):
        pass

    q = Sized(queue)
    metrics.QUEUES.register("depth-test", q)
    assert REGISTRY.get_sample_value("reconciler_controller_queue_depth", {"controller": "depth-test"}) == 3
