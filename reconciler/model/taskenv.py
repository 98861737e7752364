"""A task's runtime environment and `${...}` interpolation: the one definition, used by the
node agent (the process environment, driver config), the registrar (service names, tags,
meta, check commands) and the scheduler (constraint targets), so that a reference resolves
to the same value wherever a job uses it.

Pure: no I/O, no clock. `build_env` gives the `NOMAD_*` variables (allocation, job, group,
task, ports, resources, directories, `NOMAD_META_*` from job, group and task meta as
written and upper-cased) plus the task's own `env` (itself interpolated). `node_values`
gives the `${node.*}`, `${attr.*}` and `${meta.*}` names. `interpolate` fills references in
any nested config (strings inside dicts and lists); an unknown reference is left as
written, as Nomad does.

`inherited_env` is the part of the agent's own environment a task or a script check may
see. The agent often holds credentials there (cloud keys, `VAULT_TOKEN`, `ETCDCTL_*`) and a
task must never inherit them (review finding H6). Nomad filters with a deny-list
(`env.denylist`); an allow-list cannot miss a new secret's name, so every driver and check
gets only `INHERITED` plus the names the operator gives with `reconciler agent --task-env`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.model.alloc_dir import AllocDir
from reconciler.model.job import Job, Task, TaskGroup
from reconciler.model.objects import Allocation, Node

REF = re.compile(r"\$\{([^{}]+)\}")
_NOT_ENV = re.compile(r"[^A-Za-z0-9_]")
REGION = "global"  # the only region a node belongs to here
INHERITED = ("PATH", "LANG", "LC_ALL", "TZ")


def inherited_env(environ: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """The part of `environ` a task may inherit: `INHERITED` and the names in `extra`."""
    return {k: environ[k] for k in (*INHERITED, *extra) if k in environ}


def env_key(s: str) -> str:
    """A label or meta key as it appears in a variable name (`NOMAD_PORT_<label>`)."""
    return _NOT_ENV.sub("_", s)


@dataclass(frozen=True)
class EnvInputs:
    """What a task's environment is computed from. `task` None is a group-level service
    (no task name, resources, meta or env); `alloc_dir` None when the caller does not know
    the node's data directory (then the `NOMAD_*_DIR` variables are absent)."""

    alloc: Allocation
    job: Job
    group: TaskGroup
    task: Task | None
    node: Node
    alloc_dir: AllocDir | None = None


def nomad_vars(i: EnvInputs) -> dict[str, str]:
    a, job, task, node = i.alloc, i.job, i.task, i.node
    ip = node.address or "127.0.0.1"
    env: dict[str, str] = {
        "NOMAD_ALLOC_ID": a.id,
        "NOMAD_SHORT_ALLOC_ID": a.id[:8],
        "NOMAD_ALLOC_NAME": a.name,
        "NOMAD_ALLOC_INDEX": str(a.index),
        "NOMAD_JOB_ID": job.id,
        "NOMAD_JOB_NAME": job.name or job.id,
        "NOMAD_GROUP_NAME": i.group.name,
        "NOMAD_TASK_NAME": task.name if task is not None else "",
        "NOMAD_DC": node.datacenter,
        "NOMAD_REGION": job.region,
        "NOMAD_NAMESPACE": a.namespace,
    }
    if i.alloc_dir is not None:
        env["NOMAD_ALLOC_DIR"] = str(i.alloc_dir.shared)
        if task is not None:
            env["NOMAD_TASK_DIR"] = str(i.alloc_dir.local_dir(task.name))
            env["NOMAD_SECRETS_DIR"] = str(i.alloc_dir.secrets_dir(task.name))
    if task is not None:
        env["NOMAD_CPU_LIMIT"] = str(task.resources.cpu)
        env["NOMAD_MEMORY_LIMIT"] = str(task.resources.memory)
        if task.resources.memory_max:
            env["NOMAD_MEMORY_MAX_LIMIT"] = str(task.resources.memory_max)
    for p in a.ports:
        label = env_key(p.label)
        host_ip = p.host_ip or ip
        inside = p.to if p.to > 0 else p.value
        env[f"NOMAD_PORT_{label}"] = str(inside)
        env[f"NOMAD_HOST_PORT_{label}"] = str(p.value)
        env[f"NOMAD_IP_{label}"] = host_ip
        env[f"NOMAD_ADDR_{label}"] = f"{host_ip}:{p.value}"
        env[f"NOMAD_HOST_IP_{label}"] = host_ip
        env[f"NOMAD_HOST_ADDR_{label}"] = f"{host_ip}:{p.value}"
    meta = {**job.meta, **i.group.meta, **(task.meta if task is not None else {})}
    for k, v in meta.items():
        env[f"NOMAD_META_{env_key(k)}"] = v
        env[f"NOMAD_META_{env_key(k).upper()}"] = v
    return env


def _fixed_node_values(node: Node) -> dict[str, str]:
    return {
        "node.unique.id": node.id,
        "node.unique.name": node.name,
        "node.datacenter": node.datacenter,
        "node.class": node.node_class,
        "node.pool": node.node_pool,
        "node.region": REGION,
    }


def node_values(node: Node) -> dict[str, str]:
    """`${node.*}`, `${attr.*}` and `${meta.*}` names, as Nomad spells them."""
    vals = _fixed_node_values(node)
    for k, v in node.attributes.items():
        vals[f"attr.{k}"] = v
    for k, v in node.meta.items():
        vals[f"meta.{k}"] = v
        vals[f"node.meta.{k}"] = v
    return vals


def node_value(node: Node, ref: str) -> str | None:
    """One name of `node_values(node)` (or None), without building them all: the scheduler
    asks this for every node and constraint."""
    if ref.startswith("attr."):
        return node.attributes.get(ref[5:])
    if ref.startswith("meta."):
        return node.meta.get(ref[5:])
    if ref.startswith("node.meta."):
        return node.meta.get(ref[10:])
    return _fixed_node_values(node).get(ref)


def resolve(target: str, node: Node) -> str | None:
    """A constraint's attribute or value: `${node.*|attr.*|meta.*}` looked up on the node
    (None if the node has no such value), anything else a literal."""
    if not (target.startswith("${") and target.endswith("}")):
        return target
    return node_value(node, target[2:-1])


def interpolate_str(s: str, env: dict[str, str], extra: dict[str, str]) -> str:
    """Fill `${NAME}` / `${env.NAME}` from `env`, then node names from `extra`."""

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
    """`interpolate_str` applied to every string inside nested lists and dicts."""
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
    env = dict(base or {})
    env.update(nomad_vars(i))
    if i.task is not None:
        lookup = {**env}
        extra = node_values(i.node)
        for k, v in i.task.env.items():
            env[k] = interpolate_str(str(v), lookup, extra)
    return env
