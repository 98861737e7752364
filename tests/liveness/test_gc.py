"""Garbage collection by Nomad's rules: the pure rules for job versions, deployments, dead
jobs and down nodes, table-driven; then the collector against a real etcd, on its schedule
and when an operator forces a collection (`PUT /v1/system/gc`, `reconciler system gc`)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from controllers.liveness import gc
from controllers.liveness.collector import GarbageCollector
from reconciler.model.gc_policy import FORCED, GcThresholds
from reconciler.model.ids import DeploymentId
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    Deployment,
    DeploymentStatus,
    Evaluation,
    JobRecord,
    Node,
)
from reconciler.ops.job_stop import stop_job
from reconciler.ops.jobs import job_history, submit_job
from reconciler.ops.system import request_gc
from reconciler.store import Store
from tests.scheduler.factories import mock_alloc, mock_job, mock_node
from tests.waiting import wait_for

NOW = 100_000.0
HOUR = 3600.0


def record(version: int, *, stable: bool = False, job: str = "web", stop: bool = False) -> JobRecord:
    return JobRecord(
        "default", job, version, mock_job(1, id=job), "h", stop=stop, stable=stable, submit_time=0
    )


@pytest.mark.parametrize(
    ("versions", "stable", "gone"),
    [
        (6, None, []),
        (8, None, [0, 1]),
        (8, 0, [1]),  # the newest stable stays beside the six
        (8, 5, [0, 1]),  # a stable version among the six: nothing special
        (3, 0, []),
    ],
    ids=["six kept", "past six go", "an old stable stays", "stable among the six", "few versions"],
)
def test_versions_to_collect(versions: int, stable: int | None, gone: list[int]) -> None:
    records = [record(v, stable=v == stable) for v in range(versions)]
    got = gc.versions_to_collect(records, keep=6, jobs={("default", "web")})
    assert sorted(r.version for r in got) == gone


def test_every_version_of_a_job_that_is_gone_goes() -> None:
    got = gc.versions_to_collect([record(0), record(1)], keep=6, jobs=set())
    assert sorted(r.version for r in got) == [0, 1]


def deployment(i: str, status: DeploymentStatus, t: float, job: str = "web") -> Deployment:
    return Deployment(DeploymentId(i), "default", job, 0, status=status, create_time=t, modify_time=t)


def test_deployments_to_collect() -> None:
    deps = [
        deployment("old-ok", DeploymentStatus.SUCCESSFUL, 0),
        deployment("old-failed", DeploymentStatus.FAILED, 10),
        deployment("running", DeploymentStatus.RUNNING, 20),
        deployment("newest", DeploymentStatus.SUCCESSFUL, NOW - 10),
        deployment("only", DeploymentStatus.SUCCESSFUL, 0, job="db"),  # each job's newest stays
        deployment("orphan", DeploymentStatus.RUNNING, NOW, job="gone"),
    ]
    got = gc.deployments_to_collect(deps, now=NOW, after=HOUR, jobs={("default", "web"), ("default", "db")})
    assert sorted(d.id for d in got) == ["old-failed", "old-ok", "orphan"]


def test_jobs_to_collect_takes_dead_jobs_only() -> None:
    job = mock_job(1)
    stopped = record(1, stop=True)
    done = mock_alloc(job, 0, id="done", desired_status="stop", modify_time=0)
    statuses = {"done": AllocStatus("done", "n1", "complete"), "live": AllocStatus("live", "n1", "running")}
    assert gc.jobs_to_collect([stopped], [done], statuses, [], now=NOW, after=HOUR) == [stopped]
    # a live allocation, a recent change, a pending evaluation: not dead (yet)
    live = mock_alloc(job, 1, id="live", modify_time=0)
    assert gc.jobs_to_collect([stopped], [done, live], statuses, [], now=NOW, after=HOUR) == []
    recent = replace(done, modify_time=NOW - 10)
    assert gc.jobs_to_collect([stopped], [recent], statuses, [], now=NOW, after=HOUR) == []
    pending = Evaluation(id="e", namespace="default", job_id="web", triggered_by="x", status="pending")
    assert gc.jobs_to_collect([stopped], [done], statuses, [pending], now=NOW, after=HOUR) == []
    # a running service job is never dead
    assert gc.jobs_to_collect([record(1)], [live], statuses, [], now=NOW, after=HOUR) == []


def test_nodes_to_collect() -> None:
    job = mock_job(1)
    down = mock_node("down", status="down", modify_time=0)
    busy = mock_node("busy", status="down", modify_time=0)
    recent = mock_node("recent", status="down", modify_time=NOW - 10)
    ready = mock_node("ready", modify_time=0)
    live = mock_alloc(job, 0, id="a", node="busy")
    got = gc.nodes_to_collect([down, busy, recent, ready], [live], {}, now=NOW, after=24 * HOUR)
    assert [n.id for n in got] == ["down"]


def test_forced_thresholds_are_zero() -> None:
    assert (FORCED.eval, FORCED.deployment, FORCED.job, FORCED.node) == (0, 0, 0, 0)
    assert GcThresholds() == GcThresholds(3600, 3600, 4 * 3600, 24 * 3600, 6)


def test_the_collector_keeps_six_versions_and_a_forced_collection_takes_a_dead_job(store: Store) -> None:
    for count in range(1, 9):  # eight versions of a running job
        submit_job(store, mock_job(count))
    stop_job(store, "default", "web")  # version 8, the job now stopped
    # its one allocation finished long ago, on a node that went down and is empty now
    store.put(store.keys.node("gone-node"), mock_node("gone-node", status="down", modify_time=0))
    old = mock_alloc(mock_job(1), 0, id="old", node="gone-node", desired_status="stop", modify_time=0)
    store.put(store.keys.alloc("old"), old)
    store.put(store.keys.alloc_status("old"), AllocStatus("old", "gone-node", "complete"))
    store.put(store.keys.deployment("d1"), deployment("d1", DeploymentStatus.SUCCESSFUL, 0))

    c = GarbageCollector(store, every=0)
    c.start()
    try:
        wait_for(lambda: len(c.versions.list()) == 9, message="the versions cached")
        # on its schedule: the job is too recent to be dead, the node too recently down
        # (24 h) - only the versions past six go
        for e in c.evals.list():  # every evaluation done, as a scheduler would leave them
            store.put(store.keys.eval(e.id), replace(e, status="complete"))
        wait_for(lambda: all(e.status == "complete" for e in c.evals.list()), message="evals done")
        assert c.collect()["versions"] == 3
        assert [r.version for r in job_history(store, "default", "web")] == [8, 7, 6, 5, 4, 3]

        request_gc(store)  # what PUT /v1/system/gc does
        wait_for(
            lambda: store.get(store.keys.gc_request, dict) is None, 20, message="the request carried out"
        )
    finally:
        c.stop()
    assert store.get(store.keys.job("default", "web"), JobRecord) is None
    assert job_history(store, "default", "web") == []
    assert store.get(store.keys.alloc("old"), Allocation) is None
    assert store.get(store.keys.alloc_status("old"), AllocStatus) is None
    assert store.get(store.keys.deployment("d1"), Deployment) is None
    assert store.get(store.keys.node("gone-node"), Node) is None
    assert store.count(store.keys.evals) == 0


def test_a_running_job_survives_a_forced_collection(store: Store) -> None:
    submit_job(store, mock_job(1))
    live = mock_alloc(mock_job(1), 0, id="live", modify_time=time.time() - 10 * HOUR)
    store.put(store.keys.node("n1"), mock_node("n1"))
    store.put(store.keys.alloc("live"), live)
    store.put(store.keys.alloc_status("live"), AllocStatus("live", "n1", "running"))
    c = GarbageCollector(store, every=0)
    c.start()
    try:
        wait_for(lambda: len(c.allocs.list()) == 1, message="cached")
        done = c.collect(FORCED)
    finally:
        c.stop()
    assert done["jobs"] == done["allocs"] == done["nodes"] == 0
    assert store.get(store.keys.job("default", "web"), JobRecord) is not None
    assert store.get(store.keys.alloc("live"), Allocation) is not None
