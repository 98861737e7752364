"""Which registrations should exist for one allocation: a pure function of the allocation,
its observed status, its job and its node (table-tested without etcd).

A service is in the catalog only while its allocation is wanted (desired `run`) and
actually running; anything else (pending, stopping, complete, failed, lost) has none, so the
router never sends traffic to an instance that is not up.
"""

from __future__ import annotations

import re

from reconciler.model.ids import is_valid_name
from reconciler.model.job import Job, Service, TaskGroup
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, DesiredStatus, Node
from reconciler.model.services import RegisteredCheck, ServiceRegistration

REF = re.compile(r"\$\{([^{}]+)\}")
_BAD = re.compile(r"[^A-Za-z0-9_.\-]")


def should_register(alloc: Allocation | None, status: AllocStatus | None) -> bool:
    if alloc is None or status is None:
        return False
    if alloc.desired_status != DesiredStatus.RUN or alloc.client_status:
        return False  # stopping, evicted, or marked lost by the scheduler
    return status.client_status == ClientStatus.RUNNING


def runtime_env(alloc: Allocation, job: Job, group: TaskGroup, task: str, node: Node) -> dict[str, str]:
    """The `${NOMAD_*}` values a service stanza may refer to (a subset of the task env:
    the registrar does not import the driver runner, controllers share nothing but etcd)."""
    env = {
        "NOMAD_ALLOC_ID": alloc.id,
        "NOMAD_SHORT_ALLOC_ID": alloc.id[:8],
        "NOMAD_ALLOC_NAME": alloc.name,
        "NOMAD_ALLOC_INDEX": str(alloc.index),
        "NOMAD_JOB_ID": job.id,
        "NOMAD_JOB_NAME": job.name or job.id,
        "NOMAD_GROUP_NAME": group.name,
        "NOMAD_TASK_NAME": task,
        "NOMAD_NAMESPACE": alloc.namespace,
        "NOMAD_DC": node.datacenter,
        "NOMAD_REGION": job.region,
    }
    for p in alloc.ports:
        label = re.sub(r"[^A-Za-z0-9_]", "_", p.label)
        ip = p.host_ip or node.address
        env[f"NOMAD_PORT_{label}"] = str(p.to if p.to > 0 else p.value)
        env[f"NOMAD_HOST_PORT_{label}"] = str(p.value)
        env[f"NOMAD_IP_{label}"] = ip
        env[f"NOMAD_ADDR_{label}"] = f"{ip}:{p.value}"
    for k, v in {**job.meta, **group.meta}.items():
        env[f"NOMAD_META_{k}"] = v
    return env


def interpolate(text: str, env: dict[str, str]) -> str:
    """Fill `${NOMAD_*}` (and `${env.NOMAD_*}`) references; unknown ones stay as written."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        name = name.removeprefix("env.")
        return env.get(name, m.group(0))

    return REF.sub(sub, text)


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


def _one(alloc: Allocation, job: Job, group: TaskGroup, task: str, svc: Service, node: Node,
         now: float) -> ServiceRegistration | None:
    env = runtime_env(alloc, job, group, task, node)
    default = f"{job.id}-{group.name}" + (f"-{task}" if task else "")
    name = interpolate(svc.name, env) if svc.name else default
    label = svc.port or "none"
    if not is_valid_name(name) or not is_valid_name(label):
        return None
    tags = [interpolate(t, env) for t in svc.tags]
    if alloc.canary:
        tags += [interpolate(t, env) for t in svc.canary_tags]
    checks = [RegisteredCheck(id=check_id(name, i, c.name), check=c) for i, c in enumerate(svc.checks)]
    port_alloc = next((p for p in alloc.ports if p.label == svc.port), None)
    return ServiceRegistration(
        id=service_id(alloc.id, task or group.name, name, label), service_name=name, alloc_id=alloc.id,
        namespace=alloc.namespace, job_id=alloc.job_id, group=group.name, task=task, node_id=node.id,
        datacenter=node.datacenter, address=(port_alloc.host_ip if port_alloc and port_alloc.host_ip else node.address),
        port=_port(alloc, svc.port), port_label=label, tags=tags,
        meta={k: interpolate(v, env) for k, v in svc.meta.items()}, checks=checks, canary=alloc.canary,
        create_time=now,
    )


def desired_registrations(alloc: Allocation | None, status: AllocStatus | None, job: Job | None, node: Node,
                          now: float = 0.0) -> list[ServiceRegistration]:
    """Every registration the allocation should have right now (empty unless running)."""
    if alloc is None or job is None or not should_register(alloc, status):
        return []
    group = job.group(alloc.task_group)
    if group is None:
        return []
    out: list[ServiceRegistration] = []
    owners: list[tuple[str, list[Service]]] = [("", group.services)] + [(t.name, t.services) for t in group.tasks]
    for task, services in owners:
        for svc in services:
            reg = _one(alloc, job, group, task, svc, node, now)
            if reg is not None:
                out.append(reg)
    return out


def same_registration(a: ServiceRegistration, b: ServiceRegistration) -> bool:
    """Equal except for the creation time (a re-put of an unchanged entry is a wasted write)."""
    return a.__class__(**{**a.__dict__, "create_time": 0.0}) == b.__class__(**{**b.__dict__, "create_time": 0.0})
