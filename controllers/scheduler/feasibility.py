"""Feasibility: may this task group run on this node? Small pure checks chained in order.

Static checks (datacenter, node readiness, drivers, host volumes, constraints) depend only on
the job and the node, so the placer runs them once per group and node. Dynamic checks (distinct_hosts,
CPU/memory/disk, static ports) depend on what the plan has placed so far and run per placement.
Each check returns None (feasible) or the reason, in the words Nomad's metrics use: a
constraint as `${attr.kernel.name} = linux`, "missing drivers", "missing compatible host
volumes", or a resource dimension.
"""

from __future__ import annotations

import fnmatch
import functools
import operator
import re
from collections.abc import Callable
from typing import Any

from controllers.scheduler.ports import static_collision
from controllers.scheduler.state import NodeState
from reconciler.model import regexp
from reconciler.model.job import Constraint, Job, TaskGroup
from reconciler.model.objects import Node
from reconciler.model.taskenv import resolve

DISTINCT_HOSTS = "distinct_hosts"


def datacenter_ok(job: Job, node: Node) -> bool:
    return any(dc == node.datacenter or fnmatch.fnmatchcase(node.datacenter, dc) for dc in job.datacenters)


def node_ready(node: Node) -> bool:
    return node.schedulable()


def drivers_ok(group: TaskGroup, node: Node) -> bool:
    return all(node.drivers.get(t.driver, False) for t in group.tasks if t.driver)


def host_volumes_ok(group: TaskGroup, node: Node) -> bool:
    """Nomad's HostVolumeChecker: every host volume the group asks for is offered by the node,
    and writable unless the request (and so every mount of it) is read-only."""
    for req in group.volumes.values():
        offered = node.host_volumes.get(req.source)
        if offered is None or (offered.read_only and not req.read_only):
            return False
    return True


def _num(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _ordered(op: str, lval: str, rval: str) -> bool:
    """Numbers compare as numbers, anything else as strings."""
    ln, rn = _num(lval), _num(rval)
    if ln is not None and rn is not None:
        return _ORDER[op](ln, rn)
    return _ORDER[op](lval, rval)


def _version(s: str) -> tuple[int, ...] | None:
    m = re.match(r"^v?(\d+(?:\.\d+)*)", s.strip())
    if not m:
        return None
    return tuple(int(x) for x in m.group(1).split("."))


def version_matches(value: str, spec: str) -> bool:
    """`spec` like ">= 1.2, < 2.0" (all must hold); versions compared numerically."""
    have = _version(value)
    if have is None:
        return False
    for part in spec.split(","):
        m = re.match(r"^\s*(>=|<=|!=|~>|=|>|<)?\s*(\S+)\s*$", part)
        if not m:
            return False
        op, want_s = m.group(1) or "=", m.group(2)
        want = _version(want_s)
        if want is None:
            return False
        n = max(len(have), len(want))
        h, w = have + (0,) * (n - len(have)), want + (0,) * (n - len(want))
        ok = {
            "=": h == w,
            "!=": h != w,
            ">": h > w,
            "<": h < w,
            ">=": h >= w,
            "<=": h <= w,
            "~>": h >= w and h[: len(want) - 1] == w[: len(want) - 1],
        }[op]
        if not ok:
            return False
    return True


def _regexp(lval: str, rval: str) -> bool:
    try:
        return regexp.search(rval, lval)  # RE2: linear time (review finding H7)
    except regexp.RegexpError:
        return False


def _set_contains_all(lval: str, rval: str) -> bool:
    have = {x.strip() for x in lval.split(",")}
    return all(x.strip() in have for x in rval.split(","))


def _set_contains_any(lval: str, rval: str) -> bool:
    have = {x.strip() for x in lval.split(",")}
    return any(x.strip() in have for x in rval.split(","))


# Operators comparing the attribute with the value, both set (an unset side fails them).
_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "is": operator.eq,
    "!=": operator.ne,
    "not": operator.ne,
    **{op: functools.partial(_ordered, op) for op in _ORDER},
    "regexp": _regexp,
    "version": version_matches,
    "semver": version_matches,
    "set_contains": _set_contains_all,
    "set_contains_all": _set_contains_all,
    "set_contains_any": _set_contains_any,
}


def constraint_ok(c: Constraint, node: Node) -> bool:
    op = c.operator or "="
    if op == DISTINCT_HOSTS:
        return True  # checked per placement
    lval = resolve(c.attribute, node) if c.attribute else None
    if op == "is_set":
        return lval is not None
    if op == "is_not_set":
        return lval is None
    compare = _COMPARE.get(op)
    rval = resolve(c.value, node)
    if compare is None or lval is None or rval is None:
        return False
    return compare(lval, rval)


def describe(c: Constraint) -> str:
    """A constraint as Nomad prints it in placement metrics."""
    if c.operator == DISTINCT_HOSTS:
        return "distinct_hosts"
    return f"{c.attribute} {c.operator} {c.value}".strip()


def constraints_for(job: Job, group: TaskGroup) -> list[Constraint]:
    out = list(job.constraints) + list(group.constraints)
    for t in group.tasks:
        out.extend(t.constraints)
    return out


def wants_distinct_hosts(job: Job, group: TaskGroup) -> tuple[bool, bool]:
    """(job-level, group-level) distinct_hosts, as `distinct_hosts = true` constraints."""

    def on(cs: list[Constraint]) -> bool:
        return any(c.operator == DISTINCT_HOSTS and c.value.lower() not in ("false", "0") for c in cs)

    group_level = list(group.constraints)
    for t in group.tasks:
        group_level.extend(t.constraints)
    return on(job.constraints), on(group_level)


def static_filter(job: Job, group: TaskGroup, node: Node, constraints: list[Constraint]) -> str | None:
    """None if the node passes every static check, else the metric it is filtered under."""
    if not drivers_ok(group, node):
        return "missing drivers"
    if not host_volumes_ok(group, node):
        return "missing compatible host volumes"
    for c in constraints:
        if not constraint_ok(c, node):
            return describe(c)
    return None


def dynamic_filter(
    job_id: str,
    group: TaskGroup,
    st: NodeState,
    cpu: int,
    mem: int,
    distinct: tuple[bool, bool],
    disk: int = 0,
) -> tuple[str, str] | None:
    """None if the allocation fits now; else (kind, name) with kind "constraint" (filtered)
    or "dimension" (exhausted)."""
    if distinct[0] and st.jobs.get(job_id):
        return ("constraint", "distinct_hosts")
    if distinct[1] and st.groups.get((job_id, group.name)):
        return ("constraint", "distinct_hosts")
    if st.cpu_used + cpu > st.cpu_total:
        return ("dimension", "cpu")
    if st.mem_used + mem > st.mem_total:
        return ("dimension", "memory")
    if st.disk_used + disk > st.disk_total:
        return ("dimension", "disk")
    if group.networks:
        clash = static_collision(group.networks, st.ports)
        if clash:
            return ("dimension", clash)
    return None


def group_ask(group: TaskGroup) -> tuple[int, int]:
    """(cpu MHz, memory MB) the group's tasks ask for together."""
    return sum(t.resources.cpu for t in group.tasks), sum(t.resources.memory for t in group.tasks)


def group_disk(group: TaskGroup) -> int:
    """MB of disk the group asks for: its `ephemeral_disk.size`, shared by its tasks (Nomad
    counts it once per allocation, as AllocatedResources.Shared.DiskMB)."""
    return group.ephemeral_disk.size
