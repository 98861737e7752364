"""Utilities for the node agent tests, imported by the test modules (and re-exported by
conftest for its fixtures): jobs and allocations written straight to etcd (no scheduler),
waits on an allocation's status, and a guard for task processes."""

from __future__ import annotations

import sys
import time
from typing import Any

from controllers.driver_runner import procfs
from reconciler.model.ids import new_id
from reconciler.model.job import SECOND, Job, Network, Port, RestartPolicy, Task, TaskGroup
from reconciler.model.objects import AllocatedPort, Allocation, AllocStatus, JobRecord
from reconciler.store import Store
from tests.ports import free_port
from tests.waiting import wait_for

PY = sys.executable
HTTP_SERVER = [PY, "-m", "http.server", "--bind", "127.0.0.1", "${NOMAD_PORT_http}"]


def make_job(
    job_id: str = "web",
    *,
    tasks: list[Task] | None = None,
    count: int = 1,
    type: str = "service",
    restart: RestartPolicy | None = None,
    ports: tuple[str, ...] = ("http",),
    **kw: Any,
) -> Job:
    tasks = tasks or [
        Task(
            name="server",
            driver="raw_exec",
            config={"command": PY, "args": HTTP_SERVER[1:]},
            kill_timeout=2 * SECOND,
        )
    ]
    group = TaskGroup(
        name="g",
        count=count,
        tasks=tasks,
        restart=restart,
        networks=[Network(ports=[Port(label=p) for p in ports])],
    )
    return Job(id=job_id, type=type, task_groups=[group], datacenters=["dc1"], **kw)


def put_job(store: Store, job: Job, version: int = 0) -> JobRecord:
    rec = JobRecord(namespace=job.namespace, id=job.id, version=version, job=job, spec_hash="x")
    store.put(store.keys.job_version(job.namespace, job.id, version), rec)
    return rec


def make_alloc(
    job: Job, node_id: str, index: int = 0, *, version: int = 0, ports: dict[str, int] | None = None
) -> Allocation:
    group = job.task_groups[0]
    if ports is None:
        ports = {p.label: free_port() for n in group.networks for p in n.ports}
    return Allocation(
        id=new_id(),
        namespace=job.namespace,
        job_id=job.id,
        job_version=version,
        task_group=group.name,
        name=f"{job.id}.{group.name}[{index}]",
        index=index,
        node_id=node_id,
        ports=[AllocatedPort(label=k, value=v) for k, v in ports.items()],
        create_time=time.time(),
    )


def put_alloc(store: Store, alloc: Allocation) -> Allocation:
    store.put(store.keys.alloc(alloc.id), alloc)
    return alloc


def get_status(store: Store, alloc_id: str) -> AllocStatus | None:
    got = store.get(store.keys.alloc_status(alloc_id), AllocStatus)
    return got.value if got else None


def wait_status(store: Store, alloc_id: str, client_status: str, timeout: float = 30.0) -> AllocStatus:
    def check() -> AllocStatus | None:
        st = get_status(store, alloc_id)
        return st if st is not None and st.client_status == client_status else None

    return wait_for(
        check,
        timeout,
        message=lambda: f"alloc {alloc_id[:8]} {client_status} (now {get_status(store, alloc_id)})",
    )


def event_types(st: AllocStatus, task: str) -> list[str]:
    return [e.type for e in st.task_states[task].events]


class ProcessGuard:
    """Remembers task pids seen during a test and fails if any still runs at the end."""

    def __init__(self) -> None:
        self.pids: dict[int, int] = {}

    def add(self, pid: int) -> None:
        st = procfs.start_time(pid)
        if st is not None:
            self.pids[pid] = st

    def leftovers(self) -> list[int]:
        return [p for p, s in self.pids.items() if procfs.is_same_process(p, s)]
