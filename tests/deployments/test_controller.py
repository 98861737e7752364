"""The scheduler (with deployments) and the deployment controller against a real etcd:
simulated node records and heartbeats, allocation statuses written by the test as a node
agent would."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import pytest

from controllers.deployments.controller import DeploymentController
from controllers.scheduler.controller import SchedulerController
from reconciler.deployments.health import health_of
from reconciler.model.job import Job, UpdateStrategy
from reconciler.model.objects import Allocation, AllocStatus, Deployment, JobRecord, TaskState
from reconciler.ops.deployments import promote_deployment
from reconciler.ops.jobs import submit_job
from reconciler.store import Store
from tests.scheduler.factories import mock_job
from tests.scheduler.sim import add_node, allocs
from tests.waiting import wait_for


@pytest.fixture
def controllers(store: Store) -> Iterator[None]:
    sched = SchedulerController(store, deployments=True)
    deps = DeploymentController(store)
    sched.start()
    deps.start()
    yield
    deps.stop()
    sched.stop()


def web(count: int = 3, env: str = "1", **update: Any) -> Job:
    job = mock_job(
        count, update=UpdateStrategy(**{"min_healthy_time": 0, "health_check": "task_states", **update})
    )
    task = dataclasses.replace(job.task_groups[0].tasks[0], env={"V": env})
    return dataclasses.replace(job, task_groups=[dataclasses.replace(job.task_groups[0], tasks=[task])])


def report(store: Store, a: Allocation, status: str = "running") -> None:
    now = time.time()
    st = "dead" if status == "failed" else "running"
    store.put(
        store.keys.alloc_status(a.id),
        AllocStatus(
            alloc_id=a.id,
            node_id=a.node_id,
            client_status=status,
            modify_time=now,
            task_states={"server": TaskState(state=st, failed=status == "failed", started_at=now)},
        ),
    )


def run_new(store: Store, seen: set[str]) -> list[Allocation]:
    """Report every new live allocation running (the node agent's part)."""
    fresh = [a for a in allocs(store, "web") if a.id not in seen]
    for a in fresh:
        report(store, a)
        seen.add(a.id)
    return fresh


def deployment(store: Store, version: int) -> Deployment | None:
    deps = [i.value for i in store.list(store.keys.deployments, Deployment)[0] if i.value.job_id == "web"]
    return next((d for d in deps if d.job_version == version), None)


def stable(store: Store, version: int) -> bool:
    rec = store.get(store.keys.job_version("default", "web", version), JobRecord)
    return rec is not None and rec.value.stable


def first_version(store: Store, seen: set[str], job: Job) -> None:
    submit_job(store, job)
    wait_for(lambda: len(run_new(store, seen)) == 3 or len(seen) == 3, timeout=10, message="version 0 placed")
    wait_for(
        lambda: (d := deployment(store, 0)) is not None and d.status == "successful",
        timeout=10,
        message="version 0 deployed",
    )
    assert stable(store, 0)


def test_canary_then_promotion(store: Store, controllers: None) -> None:
    add_node(store, "n1", cpu=100_000, memory=100_000)
    seen: set[str] = set()
    first_version(store, seen, web(canary=1, max_parallel=3))
    submit_job(store, web(env="2", canary=1, max_parallel=3))
    wait_for(lambda: any(a.canary for a in allocs(store, "web")), message="a canary")
    run_new(store, seen)
    wait_for(
        lambda: (d := deployment(store, 1)) is not None and d.task_groups["web"].healthy_allocs == 1,
        message="the canary healthy",
    )
    live = allocs(store, "web")
    assert sorted((a.job_version, a.canary) for a in live) == [(0, False)] * 3 + [(1, True)]
    dep = deployment(store, 1)
    assert dep is not None
    assert dep.status_description == "Deployment is running but requires manual promotion"
    g = dep.task_groups["web"]
    assert (g.desired_canaries, g.desired_total, g.placed_canaries, g.promoted) == (
        1,
        3,
        [a.id for a in live if a.canary],
        False,
    )

    promote_deployment(store, dep.id)

    def replaced() -> bool:
        live = allocs(store, "web")
        run_new(store, seen)  # the node agent reports each replacement running
        return len(live) == 3 and all(a.job_version == 1 and a.id in seen for a in live)

    wait_for(replaced, timeout=10, message="every old allocation replaced")
    wait_for(
        lambda: (d := deployment(store, 1)) is not None and d.status == "successful",
        timeout=10,
        message="version 1 deployed",
    )
    assert stable(store, 1)
    final = deployment(store, 1)
    assert final is not None
    assert final.task_groups["web"].healthy_allocs == 3
    assert final.status_description == "Deployment completed successfully"


def test_rolling_update_replaces_one_at_a_time(store: Store, controllers: None) -> None:
    add_node(store, "n1", cpu=100_000, memory=100_000)
    seen: set[str] = set()
    first_version(store, seen, web(max_parallel=1))
    submit_job(store, web(env="2", max_parallel=1))
    for n in range(1, 4):
        wait_for(
            lambda n=n: sum(a.job_version == 1 for a in allocs(store, "web")) == n,
            timeout=10,  # type: ignore[misc]
            message=f"replacement {n}",
        )
        live = allocs(store, "web")
        assert len(live) == 3, "one replacement in flight"
        assert sum(a.job_version == 1 for a in live) == n, "one replacement in flight"
        run_new(store, seen)
    wait_for(lambda: (d := deployment(store, 1)) is not None and d.status == "successful", message="deployed")


def test_unhealthy_allocation_fails_and_auto_reverts(store: Store, controllers: None) -> None:
    add_node(store, "n1", cpu=100_000, memory=100_000)
    seen: set[str] = set()
    first_version(store, seen, web(max_parallel=1, auto_revert=True))
    submit_job(store, web(env="bad", max_parallel=1, auto_revert=True))
    bad = wait_for(
        lambda: next((a for a in allocs(store, "web") if a.job_version == 1), None), message="replacement"
    )
    report(store, bad, "failed")
    seen.add(bad.id)
    wait_for(
        lambda: (d := deployment(store, 1)) is not None and d.status == "failed", message="deployment failed"
    )
    dep = deployment(store, 1)
    assert dep is not None
    assert dep.status_description == "Failed due to unhealthy allocations - rolling back to job version 0"
    cur = wait_for(
        lambda: (r := store.get(store.keys.job("default", "web"), JobRecord)) and r.value.version == 2 and r,
        message="version 2 submitted",
    )
    assert cur.value.job.task_groups[0].tasks[0].env == {"V": "1"}, "version 2 is version 0's spec"
    # version 2 is version 0 again: the old allocations are updated in place
    wait_for(lambda: sum(a.job_version == 2 for a in allocs(store, "web")) == 2, message="reverted in place")


def test_checks_health_waits_for_every_check_passing(store: Store, controllers: None) -> None:
    from reconciler.model.job import Check, Service
    from reconciler.model.services import CheckState, CheckStatus

    add_node(store, "n1", cpu=100_000, memory=100_000)
    job = web(1, max_parallel=1, health_check="checks")
    group = dataclasses.replace(
        job.task_groups[0],
        services=[Service(name="web", checks=[Check(name="alive", type="script", command="true")])],
    )
    job = dataclasses.replace(job, task_groups=[group])
    submit_job(store, job)
    a = wait_for(lambda: next(iter(allocs(store, "web")), None), message="placed")
    report(store, a)
    key = store.keys.check(a.id, "alive")
    store.put(key, CheckStatus(alloc_id=a.id, check_id="alive", status=CheckState.CRITICAL, time=time.time()))
    # a running allocation with a critical check is not healthy: the deployment stays running
    wait_for(
        lambda: (d := deployment(store, 0)) is not None and d.task_groups["web"].placed_allocs == 1,
        message="the deployment counted the allocation",
    )
    dep = deployment(store, 0)
    assert dep is not None
    assert dep.status == "running"
    assert health_of(dep, a.id) is None
    store.put(key, CheckStatus(alloc_id=a.id, check_id="alive", status=CheckState.PASSING, time=time.time()))
    wait_for(
        lambda: (d := deployment(store, 0)) is not None and d.status == "successful",
        message="healthy by checks",
    )


def test_auto_promote_once_the_canary_is_healthy(store: Store, controllers: None) -> None:
    add_node(store, "n1", cpu=100_000, memory=100_000)
    seen: set[str] = set()
    first_version(store, seen, web(canary=1, max_parallel=3, auto_promote=True))
    submit_job(store, web(env="2", canary=1, max_parallel=3, auto_promote=True))

    def done() -> bool:
        run_new(store, seen)
        d = deployment(store, 1)
        return d is not None and d.status == "successful"

    wait_for(done, timeout=10, message="auto-promoted and deployed")
    dep = deployment(store, 1)
    assert dep is not None
    assert dep.task_groups["web"].promoted
    assert sorted(a.job_version for a in allocs(store, "web")) == [1, 1, 1]


def test_a_newer_version_cancels_the_canary_deployment_and_its_canary(
    store: Store, controllers: None
) -> None:
    add_node(store, "n1", cpu=100_000, memory=100_000)
    seen: set[str] = set()
    first_version(store, seen, web(canary=1, max_parallel=3))
    submit_job(store, web(env="2", canary=1, max_parallel=3))
    first_canary = wait_for(
        lambda: next((a for a in allocs(store, "web") if a.canary), None), message="canary of v1"
    )
    run_new(store, seen)
    submit_job(store, web(env="3", canary=1, max_parallel=3))
    wait_for(
        lambda: (d := deployment(store, 1)) is not None and d.status == "cancelled", message="v1 cancelled"
    )
    dep1 = deployment(store, 1)
    assert dep1 is not None
    assert dep1.status_description == "Cancelled due to newer version of job"

    def v2_canary_only() -> bool:
        live = allocs(store, "web")
        return sorted((a.job_version, a.canary) for a in live) == [(0, False)] * 3 + [(2, True)]

    wait_for(v2_canary_only, message="v1's canary stopped, v2's canary beside the three old")
    stopped = next(a for a in allocs(store, "web", live=False) if a.id == first_canary.id)
    assert stopped.desired_description == "alloc not needed as it is a canary of an older deployment"
