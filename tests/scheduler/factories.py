"""Small factories for scheduler tests (Nomad's mock.Job()/mock.Alloc()/mock.Node() style)."""

from __future__ import annotations

import dataclasses
from typing import Any

from controllers.scheduler.buckets import ReconcileResult
from reconciler.model.job import Job
from reconciler.model.objects import Allocation, AllocStatus, Node, NodeResources
from tests.factories import mock_job

__all__ = ["mock_job"]  # the one job factory, re-exported for the scheduler tests


def mock_alloc(
    job: Job, index: int, *, node: str = "n1", version: int = 0, group: str | None = None, **kw: Any
) -> Allocation:
    g = group or job.task_groups[0].name
    return Allocation(
        id=kw.pop("id", f"a-{g}-{index}-{version}-{node}"),
        namespace=job.namespace,
        job_id=job.id,
        job_version=version,
        task_group=g,
        name=f"{job.id}.{g}[{index}]",
        index=index,
        node_id=node,
        **kw,
    )


def mock_status(alloc: Allocation, client_status: str, *, at: float = 0.0) -> AllocStatus:
    return AllocStatus(alloc_id=alloc.id, node_id=alloc.node_id, client_status=client_status, modify_time=at)


def mock_node(
    id: str = "n1",
    *,
    cpu: int = 4000,
    memory: int = 8192,
    dc: str = "dc1",
    drivers: dict[str, bool] | None = None,
    **kw: Any,
) -> Node:
    return Node(
        id=id,
        name=id,
        datacenter=dc,
        resources=NodeResources(cpu_mhz=cpu, cores=4, memory_mb=memory),
        drivers={"raw_exec": True, "exec": True} if drivers is None else drivers,
        attributes=kw.pop("attributes", {"kernel.name": "linux", "os.name": "debian", "unique.hostname": id}),
        **kw,
    )


def nodes_map(*nodes: Node) -> dict[str, Node]:
    return {n.id: n for n in nodes}


def with_count(job: Job, count: int, group: int = 0) -> Job:
    groups = list(job.task_groups)
    groups[group] = dataclasses.replace(groups[group], count=count)
    return dataclasses.replace(job, task_groups=groups)


def assert_results(
    r: ReconcileResult,
    *,
    place: int = 0,
    stop: int = 0,
    inplace: int = 0,
    destructive: int = 0,
    lost: int = 0,
    reschedule_now: int = 0,
    reschedule_later: int = 0,
) -> None:
    got = {
        "place": len(r.place),
        "stop": len(r.stop),
        "inplace": len(r.inplace_update),
        "destructive": len(r.destructive_update),
        "lost": len(r.lost),
        "reschedule_now": len(r.reschedule_now),
        "reschedule_later": len(r.reschedule_later),
    }
    want = {
        "place": place,
        "stop": stop,
        "inplace": inplace,
        "destructive": destructive,
        "lost": lost,
        "reschedule_now": reschedule_now,
        "reschedule_later": reschedule_later,
    }
    assert got == want, f"buckets {got} != expected {want}"
