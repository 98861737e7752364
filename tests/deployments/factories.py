"""Factories for deployment tests: a job with an update stanza, allocations of two
versions, deployments with given group states and health verdicts."""

from __future__ import annotations

import dataclasses
from typing import Any

from reconciler.model.job import SECOND, UpdateStrategy
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    Deployment,
    DeploymentGroupState,
    DeploymentStatus,
    TaskState,
)
from tests.factories import mock_job
from tests.scheduler.factories import mock_alloc

DEP = "dep-1"


def job(count: int = 3, **update: Any) -> Any:
    """`mock_job` with a rolling update stanza (one at a time, healthy after 1 s of running
    tasks); `update` overrides its fields."""
    upd = UpdateStrategy(
        **{"max_parallel": 1, "min_healthy_time": 1 * SECOND, "health_check": "task_states", **update}
    )
    return mock_job(count, update=upd)


def olds(j: Any, n: int, version: int = 0) -> list[Allocation]:
    return [mock_alloc(j, i, version=version, id=f"old{i}") for i in range(n)]


def new(
    j: Any, index: int, *, version: int = 1, canary: bool = False, dep: str = DEP, **kw: Any
) -> Allocation:
    return mock_alloc(
        j,
        index,
        version=version,
        id=kw.pop("id", f"new{index}{'c' if canary else ''}"),
        canary=canary,
        deployment_id=dep,
        **kw,
    )


def deployment(
    *,
    canaries: int = 0,
    promoted: bool = False,
    total: int = 3,
    status: str = DeploymentStatus.RUNNING,
    healthy: tuple[str, ...] = (),
    unhealthy: tuple[str, ...] = (),
    version: int = 1,
    **group: Any,
) -> Deployment:
    gs = DeploymentGroupState(desired_canaries=canaries, promoted=promoted, desired_total=total, **group)
    return Deployment(
        id=DEP,
        namespace="default",
        job_id="web",
        job_version=version,
        status=status,
        task_groups={"web": gs},
        healthy_alloc_ids=sorted(healthy),
        unhealthy_alloc_ids=sorted(unhealthy),
    )


def running(
    alloc: Allocation, *, started: float = 100.0, tasks: tuple[str, ...] = ("server",)
) -> AllocStatus:
    return AllocStatus(
        alloc_id=alloc.id,
        node_id=alloc.node_id,
        client_status="running",
        task_states={t: TaskState(state="running", started_at=started) for t in tasks},
    )


def with_group(dep: Deployment, **changes: Any) -> Deployment:
    out = dataclasses.replace(
        dep, task_groups={n: dataclasses.replace(g, **changes) for n, g in dep.task_groups.items()}
    )
    return out
