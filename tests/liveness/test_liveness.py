"""Which nodes the liveness controller marks down (pure), what garbage collection deletes,
and both controllers against a real etcd."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.liveness.decide import affected_jobs, decide_down, decide_missing
from tests.scheduler.factories import mock_alloc, mock_job, mock_node

NOW = 1000.0


@pytest.mark.parametrize(
    ("node", "alive", "down"),
    [
        (mock_node("n1", modify_time=NOW - 10), set(), True),
        (mock_node("n1", modify_time=NOW - 10), {"n1"}, False),
        (mock_node("n1", modify_time=NOW - 0.5), set(), False),
        (mock_node("n1", modify_time=NOW - 10, status="down"), set(), False),
        (mock_node("n1", modify_time=NOW - 10, status="initializing"), set(), False),
    ],
    ids=[
        "a ready node without a heartbeat is down",
        "a node with a heartbeat is alive",
        "a node that just changed gets a grace period",
        "a node already down is left alone",
        "a node still initializing is left alone",
    ],
)
def test_decide_down(node, alive, down) -> None:
    assert (decide_down([node], alive, now=NOW, grace=2.0) == [node]) is down


def test_affected_jobs_skip_stopped_allocations() -> None:
    job = mock_job(2)
    allocs = [mock_alloc(job, 0), mock_alloc(mock_job(1, id="other"), 0, desired_status="stop")]
    assert affected_jobs(allocs) == {("default", "web")}


def test_gc_rules() -> None:
    from controllers.liveness.gc import allocs_to_collect, evals_to_collect
    from reconciler.model.objects import AllocStatus, Evaluation

    def ev(i: str, status: str, t: float, job: str = "web") -> Evaluation:
        return Evaluation(
            id=i,
            namespace="default",
            job_id=job,
            triggered_by="x",
            status=status,
            create_time=t,
            modify_time=t,
        )

    evals = [
        ev("old", "complete", 0),
        ev("blocked", "blocked", 0),
        ev("newest", "complete", 10),
        ev("other", "complete", 0, job="db"),
    ]
    assert [e.id for e in evals_to_collect(evals, now=5000, after=3600)] == ["old"]

    job = mock_job(4)
    nodes = {"n1": mock_node("n1")}
    stopped_done = mock_alloc(job, 0, id="a0", desired_status="stop", modify_time=0)
    stopped_running = mock_alloc(job, 1, id="a1", desired_status="stop", modify_time=0)
    lost = mock_alloc(job, 2, id="a2", desired_status="stop", client_status="lost", modify_time=0)
    batch_done = mock_alloc(job, 3, id="a3", modify_time=0)
    statuses = {
        "a0": AllocStatus("a0", "n1", "complete"),
        "a1": AllocStatus("a1", "n1", "running"),
        "a3": AllocStatus("a3", "n1", "complete"),
    }
    got = allocs_to_collect(
        [stopped_done, stopped_running, lost, batch_done], statuses, nodes, now=5000, after=3600
    )
    assert sorted(a.id for a in got) == ["a0", "a2"]
    assert allocs_to_collect([stopped_done], statuses, nodes, now=100, after=3600) == []


def test_gc_deletes_from_etcd(store) -> None:
    import time

    from controllers.liveness.collector import GarbageCollector
    from reconciler.model.objects import Allocation, AllocStatus, Evaluation
    from reconciler.ops.jobs import submit_job
    from tests.scheduler.sim import add_node, wait_for

    add_node(store, "n1")
    job = mock_job(2)
    submit_job(store, job)  # the job exists: its newest evaluation and live allocation stay
    old = mock_alloc(job, 0, id="gone", desired_status="stop", modify_time=time.time() - 7200)
    keep = mock_alloc(job, 1, id="kept", modify_time=time.time() - 7200)
    for a in (old, keep):
        store.put(store.keys.alloc(a.id), a)
    store.put(store.keys.alloc_status("gone"), AllocStatus("gone", "n1", "complete"))
    for i, t in (("e-old", time.time() - 7200), ("e-new", time.time())):
        store.put(
            store.keys.eval(i),
            Evaluation(
                id=i,
                namespace="default",
                job_id="web",
                triggered_by="x",
                status="complete",
                create_time=t,
                modify_time=t,
            ),
        )
    c = GarbageCollector(store, every=0, after=3600)
    c.start()
    try:
        wait_for(lambda: len(c.allocs.list()) == 2, message="cache")
        assert c.collect() == {
            "jobs": 0,
            "versions": 0,
            "evals": 1,
            "allocs": 1,
            "deployments": 0,
            "nodes": 0,
        }
    finally:
        c.stop()
    assert store.get(store.keys.alloc("gone"), Allocation) is None
    assert store.get(store.keys.alloc_status("gone"), AllocStatus) is None
    assert store.get(store.keys.alloc("kept"), Allocation) is not None
    assert store.get(store.keys.eval("e-old"), Evaluation) is None
    assert store.get(store.keys.eval("e-new"), Evaluation) is not None


W = 60.0  # the window of the jobs below, seconds


@pytest.mark.parametrize(
    ("status", "modify", "allocs", "want"),
    [
        ("ready", NOW - 10, [{}], "disconnected"),
        ("ready", NOW - 10, [{"desired_status": "stop"}], "down"),
        ("ready", NOW - 10, [{"window": 0.0}], "down"),
        ("ready", NOW - 10, [], "down"),
        ("ready", NOW - 10, [{"client_status": "unknown", "disconnected_at": NOW - 2 * W}], "down"),
        ("ready", NOW - 10, [{"window": 0.0}, {}], "disconnected"),
        ("disconnected", NOW - 10, [{}], None),
        ("disconnected", NOW - 2 * W, [{}], "down"),  # never marked unknown: counts from the node
        ("disconnected", NOW - 10, [{"client_status": "unknown", "disconnected_at": NOW - 2 * W}], "down"),
        ("disconnected", NOW - 2 * W, [{"client_status": "unknown", "disconnected_at": NOW - 10}], None),
        ("down", NOW - 10, [{}], None),
    ],
    ids=[
        "a ready node running an allocation with a window is disconnected",
        "a stopped allocation does not wait",
        "an allocation without a window does not wait",
        "a node without allocations is down",
        "an unknown allocation past its window does not wait",
        "one allocation that waits is enough",
        "a disconnected node stays while its allocations wait",
        "a disconnected node is down once the window from its departure passed",
        "a disconnected node is down once its unknown allocations' windows passed",
        "an allocation marked unknown late counts from then",
        "a node down is left alone",
    ],
)
def test_decide_missing(status: str, modify: float, allocs: list[dict[str, Any]], want: str | None) -> None:
    node = mock_node("n1", modify_time=modify, status=status)
    job = mock_job(len(allocs) or 1)
    objs = [
        mock_alloc(job, i, **{k: v for k, v in kw.items() if k != "window"}) for i, kw in enumerate(allocs)
    ]
    windows = {a.id: kw.get("window", W) for a, kw in zip(objs, allocs, strict=True)}
    got = decide_missing([node], set(), lambda nid: objs, lambda a: windows[a.id], now=NOW, grace=2.0)
    assert [s for _, s in got] == ([want] if want else [])
