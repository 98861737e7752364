"""The task environment and `${...}` runtime interpolation: one set of values for both.

`build_env` is pure: from the allocation, job, group, task, node and directories it gives
the NOMAD_* variables plus the task's own `env` (itself interpolated). `interpolate` fills
`${NOMAD_*}`, `${env.X}`, `${node.*}`, `${attr.*}` and `${meta.*}` into any nested
config (strings inside dicts and lists); an unknown reference is left as written, as Nomad
does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reconciler.model.alloc_dir import AllocDir
from reconciler.model.job import Job, Task, TaskGroup
from reconciler.model.objects import Allocation, Node

REF = re.compile(r"\$\{([^{}]+)\}")


def _env_key(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", s)


@dataclass(frozen=True)
class EnvInputs:
    alloc: Allocation
    job: Job
    group: TaskGroup
    task: Task
    node: Node
    alloc_dir: AllocDir


def nomad_vars(i: EnvInputs) -> dict[str, str]:
    a, job, task, node = i.alloc, i.job, i.task, i.node
    ip = node.address or "127.0.0.1"
    env: dict[str, str] = {
        "NOMAD_ALLOC_ID": a.id,
        "NOMAD_SHORT_ALLOC_ID": a.id[:8],
        "NOMAD_ALLOC_NAME": a.name,
        "NOMAD_ALLOC_INDEX": str(a.index),
        "NOMAD_ALLOC_DIR": str(i.alloc_dir.shared),
        "NOMAD_TASK_DIR": str(i.alloc_dir.local_dir(task.name)),
        "NOMAD_SECRETS_DIR": str(i.alloc_dir.secrets_dir(task.name)),
        "NOMAD_JOB_ID": job.id,
        "NOMAD_JOB_NAME": job.name or job.id,
        "NOMAD_GROUP_NAME": i.group.name,
        "NOMAD_TASK_NAME": task.name,
        "NOMAD_DC": node.datacenter,
        "NOMAD_REGION": job.region,
        "NOMAD_NAMESPACE": a.namespace,
        "NOMAD_CPU_LIMIT": str(task.resources.cpu),
        "NOMAD_MEMORY_LIMIT": str(task.resources.memory),
    }
    if task.resources.memory_max:
        env["NOMAD_MEMORY_MAX_LIMIT"] = str(task.resources.memory_max)
    for p in a.ports:
        label = _env_key(p.label)
        host_ip = p.host_ip or ip
        inside = p.to if p.to > 0 else p.value
        env[f"NOMAD_PORT_{label}"] = str(inside)
        env[f"NOMAD_HOST_PORT_{label}"] = str(p.value)
        env[f"NOMAD_IP_{label}"] = host_ip
        env[f"NOMAD_ADDR_{label}"] = f"{host_ip}:{p.value}"
        env[f"NOMAD_HOST_IP_{label}"] = host_ip
        env[f"NOMAD_HOST_ADDR_{label}"] = f"{host_ip}:{p.value}"
    meta = {**job.meta, **i.group.meta, **task.meta}
    for k, v in meta.items():
        env[f"NOMAD_META_{_env_key(k)}"] = v
        env[f"NOMAD_META_{_env_key(k).upper()}"] = v
    return env


def node_values(node: Node) -> dict[str, str]:
    """`${node.*}`, `${attr.*}` and `${meta.*}` names, as Nomad spells them."""
    vals = {
        "node.unique.id": node.id,
        "node.unique.name": node.name,
        "node.datacenter": node.datacenter,
        "node.class": node.node_class,
        "node.region": "global",
    }
    for k, v in node.attributes.items():
        vals[f"attr.{k}"] = v
    for k, v in node.meta.items():
        vals[f"meta.{k}"] = v
        vals[f"node.meta.{k}"] = v
    return vals


def interpolate_str(s: str, env: dict[str, str], extra: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1).strip()
        if name in env:
            return env[name]
        if name.startswith("env.") and name[4:] in env:
            return env[name[4:]]
        if name in extra:
            return extra[name]
        return m.group(0)

    return REF.sub(sub, s)


def interpolate(value: Any, env: dict[str, str], extra: dict[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate_str(value, env, extra)
    if isinstance(value, list):
        return [interpolate(v, env, extra) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env, extra) for k, v in value.items()}
    return value


def build_env(i: EnvInputs, *, base: dict[str, str] | None = None) -> dict[str, str]:
    """The full environment of the task: `base` (inherited), NOMAD_*, then the task's `env`
    with references filled in."""
    nv = nomad_vars(i)
    extra = node_values(i.node)
    env = dict(base or {})
    env.update(nv)
    lookup = {**env}
    for k, v in i.task.env.items():
        env[k] = interpolate_str(str(v), lookup, extra)
    return env
