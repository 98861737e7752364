"""Simulated cluster state for integration tests: node records, heartbeats on leases, job
records and evaluations written straight to etcd (what node agents and the API would write)."""

from __future__ import annotations

import time

from reconciler.model.ids import new_id
from reconciler.model.job import Job
from reconciler.model.objects import Allocation, Evaluation, JobRecord, Node
from reconciler.store import Store
from tests.scheduler.factories import mock_node
from tests.waiting import wait_for  # noqa: F401 - re-exported for the scheduler tests


def add_node(store: Store, node_id: str, *, ttl: int = 30, **kw: object) -> tuple[Node, object]:
    node = mock_node(node_id, create_time=time.time(), modify_time=time.time(), **kw)  # type: ignore[arg-type]
    lease = store.lease(ttl)
    store.put(store.keys.node(node.id), node)
    store.put(store.keys.heartbeat(node.id), "alive", lease=lease.id)
    return node, lease


def submit(store: Store, job: Job, version: int = 0, *, stop: bool = False) -> str:
    rec = JobRecord(
        namespace=job.namespace, id=job.id, version=version, job=job, spec_hash=str(version), stop=stop
    )
    store.put(store.keys.job_version(job.namespace, job.id, version), rec)
    store.put(store.keys.job(job.namespace, job.id), rec)
    ev = Evaluation(
        id=new_id(),
        namespace=job.namespace,
        job_id=job.id,
        triggered_by="job-register",
        job_version=version,
        create_time=time.time(),
    )
    store.put(store.keys.eval(ev.id), ev)
    return ev.id


def allocs(store: Store, job_id: str, *, live: bool = True) -> list[Allocation]:
    items, _ = store.list(store.keys.allocs, Allocation)
    out = [i.value for i in items if i.value.job_id == job_id]
    return [a for a in out if a.desired_status == "run"] if live else out


def get_eval(store: Store, eval_id: str) -> Evaluation:
    v = store.get(store.keys.eval(eval_id), Evaluation)
    assert v is not None
    return v.value
