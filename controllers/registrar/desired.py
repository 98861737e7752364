"""Which registrations should exist for one allocation: a pure function of the allocation,
its observed status, its job and its node (table-tested without etcd).

A service is in the catalog only while its allocation is wanted (desired `run`) and
actually running; anything else (pending, stopping, complete, failed, lost) has none, so the
router never sends traffic to an instance that is not up.
"""

from __future__ import annotations

import re
from dataclasses import replace

from reconciler.model.alloc_dir import AllocDir
from reconciler.model.ids import is_valid_name
from reconciler.model.job import Job, Service, TaskGroup, check_restart_of
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus, Node
from reconciler.model.services import RegisteredCheck, ServiceRegistration
from reconciler.model.taskenv import EnvInputs, build_env, interpolate_str, node_values

_BAD = re.compile(r"[^A-Za-z0-9_.\-]")


def should_register(alloc: Allocation | None, status: AllocStatus | None) -> bool:
    if alloc is None or status is None:
        return False
    if alloc.desired_status != DesiredStatus.RUN or alloc.client_status:
        return False  # stopping, evicted, or marked lost or unknown by the scheduler
    return status.client_status == ClientStatus.RUNNING


def runtime_env(
    alloc: Allocation, job: Job, group: TaskGroup, task: str, node: Node, alloc_dir: AllocDir | None = None
) -> dict[str, str]:
    """The environment the `${...}` references of a service or check resolve in: the task's
    own (reconciler.model.taskenv, as the node agent builds it), or the group's for a
    group-level service (`task` "")."""
    t = next((x for x in group.tasks if x.name == task), None) if task else None
    return build_env(EnvInputs(alloc, job, group, t, node, alloc_dir))


def check_id(service: str, index: int, name: str) -> str:
    """A check's key segment: unique within the allocation, safe as a key."""
    raw = f"{service}-{name or f'check{index}'}"
    return re.sub(r"_+", "_", _BAD.sub("_", raw)).strip("_")[:128]


def service_id(alloc_id: str, owner: str, service: str, port_label: str) -> str:
    return f"_nomad-task-{alloc_id}-{owner}-{service}-{port_label}"


def _port(alloc: Allocation, label: str) -> int:
    if label.isdigit():
        return int(label)
    for p in alloc.ports:
        if p.label == label:
            return p.value
    return 0


def _one(
    alloc: Allocation,
    job: Job,
    group: TaskGroup,
    task: str,
    svc: Service,
    node: Node,
    now: float,
    canary: bool,
) -> ServiceRegistration | None:
    env = runtime_env(alloc, job, group, task, node)
    extra = node_values(node)

    def interpolate(text: str) -> str:
        return interpolate_str(text, env, extra)

    default = f"{job.id}-{group.name}" + (f"-{task}" if task else "")
    name = interpolate(svc.name) if svc.name else default
    label = svc.port or "none"
    if not is_valid_name(name) or not is_valid_name(label):
        return None
    tags = [interpolate(t) for t in svc.tags]
    if canary:
        tags += [interpolate(t) for t in svc.canary_tags]
    checks = [
        RegisteredCheck(
            id=check_id(name, i, c.name), check=replace(c, check_restart=check_restart_of(svc, c))
        )
        for i, c in enumerate(svc.checks)
    ]
    port_alloc = next((p for p in alloc.ports if p.label == svc.port), None)
    return ServiceRegistration(
        id=service_id(alloc.id, task or group.name, name, label),
        service_name=name,
        alloc_id=alloc.id,
        namespace=alloc.namespace,
        job_id=alloc.job_id,
        group=group.name,
        task=task,
        node_id=node.id,
        datacenter=node.datacenter,
        address=(port_alloc.host_ip if port_alloc and port_alloc.host_ip else node.address),
        port=_port(alloc, svc.port),
        port_label=label,
        tags=tags,
        meta={k: interpolate(v) for k, v in svc.meta.items()},
        checks=checks,
        canary=canary,
        create_time=now,
    )


def desired_registrations(
    alloc: Allocation | None,
    status: AllocStatus | None,
    job: Job | None,
    node: Node,
    now: float = 0.0,
    *,
    promoted: bool = False,
) -> list[ServiceRegistration]:
    """Every registration the allocation should have right now (empty unless running). A
    canary carries its `canary_tags` (and `canary`) until its deployment promotes it, as in
    Nomad: from then on it is registered like any instance, so routers stop treating it apart."""
    if alloc is None or job is None or not should_register(alloc, status):
        return []
    group = job.group(alloc.task_group)
    if group is None:
        return []
    out: list[ServiceRegistration] = []
    owners: list[tuple[str, list[Service]]] = [("", group.services)] + [
        (t.name, t.services) for t in group.tasks
    ]
    for task, services in owners:
        for svc in services:
            reg = _one(alloc, job, group, task, svc, node, now, alloc.canary and not promoted)
            if reg is not None:
                out.append(reg)
    return out


def same_registration(a: ServiceRegistration, b: ServiceRegistration) -> bool:
    """Equal except for the creation time (a re-put of an unchanged entry is a wasted write)."""
    return a.__class__(**{**a.__dict__, "create_time": 0.0}) == b.__class__(
        **{**b.__dict__, "create_time": 0.0}
    )
