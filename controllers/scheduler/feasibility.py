"""Feasibility: may this task group run on this node? Small pure checks chained in order.

Static checks (datacenter, node pool, node readiness, drivers, host volumes, constraints) depend
only on the job and the node, so the placer runs them once per group and node. Dynamic checks
(distinct_hosts, distinct_property, CPU/memory/disk, static ports) depend on what the plan has placed so
far and run per placement.
Each check returns None (feasible) or the reason, in the words Nomad's metrics use: a
constraint as `${attr.kernel.name} = linux`, "missing drivers", "missing compatible host
volumes", or a resource dimension.
"""

from __future__ import annotations

import fnmatch
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controllers.scheduler.ports import static_collision
from controllers.scheduler.state import NodeState
from reconciler.model import node_pools, regexp
from reconciler.model.job import Constraint, Job, TaskGroup
from reconciler.model.objects import Node
from reconciler.model.taskenv import resolve

DISTINCT_HOSTS = "distinct_hosts"
DISTINCT_PROPERTY = "distinct_property"
PLACEMENT_WIDE = (DISTINCT_HOSTS, DISTINCT_PROPERTY)  # checked per placement, not per node


def datacenter_ok(job: Job, node: Node) -> bool:
    return any(dc == node.datacenter or fnmatch.fnmatchcase(node.datacenter, dc) for dc in job.datacenters)


def node_pool_ok(job: Job, node: Node) -> bool:
    """The node is in the job's node pool (any node, for the built-in pool "all")."""
    return node_pools.in_pool(node.node_pool, job.node_pool)


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
    if op in PLACEMENT_WIDE:
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


@dataclass(frozen=True)
class PropertyRule:
    """One distinct_property constraint: at most `limit` allocations per value of `attribute`
    (of their nodes), counting the job's allocations (job level) or the group's (`group`)."""

    attribute: str
    limit: int
    group: str = ""  # "" for a job-level constraint


def _allowed(value: str) -> int:
    """The constraint's value: the allowed count, 1 when unset (validation refuses the rest)."""
    return int(value) if value.isascii() and value.isdigit() else 1


def property_rules(job: Job, group: TaskGroup) -> list[PropertyRule]:
    """The job's distinct_property constraints, then the group's. Nomad has none at task
    level (validation refuses them there)."""
    rules = [
        PropertyRule(c.attribute, _allowed(c.value))
        for c in job.constraints
        if c.operator == DISTINCT_PROPERTY
    ]
    rules.extend(
        PropertyRule(c.attribute, _allowed(c.value), group.name)
        for c in group.constraints
        if c.operator == DISTINCT_PROPERTY
    )
    return rules


def property_usage(rule: PropertyRule, job_id: str, states: Iterable[NodeState]) -> dict[str, int]:
    """Allocations per value of the rule's property: those that keep running and those this
    plan placed so far (the states are the plan's working copy). Nodes without the
    property count for no value, as in Nomad's property sets."""
    used: dict[str, int] = {}
    key = (job_id, rule.group)
    for st in states:
        n = st.groups.get(key, 0) if rule.group else st.jobs.get(job_id, 0)
        if not n:
            continue
        value = resolve(rule.attribute, st.node)
        if value is not None:
            used[value] = used.get(value, 0) + n
    return used


def count_placement(props: Sequence[tuple[PropertyRule, dict[str, int]]], group: str, node: Node) -> None:
    """Count one more allocation of `group` on `node` in each rule's usage it concerns (a
    job-level rule counts every group's), so usage stays current through a plan without
    recounting every node per placement."""
    for rule, used in props:
        if rule.group and rule.group != group:
            continue
        value = resolve(rule.attribute, node)
        if value is not None:
            used[value] = used.get(value, 0) + 1


def property_misfit(rule: PropertyRule, used: Mapping[str, int], node: Node) -> str | None:
    """None if one more allocation on `node` keeps the rule; else Nomad's filter reason."""
    value = resolve(rule.attribute, node)
    if value is None:
        return f'missing property "{rule.attribute}"'
    n = used.get(value, 0)
    if n < rule.limit:
        return None
    return f"distinct_property: {rule.attribute}={value} used by {n} allocs"


def properties_misfit(props: Sequence[tuple[PropertyRule, Mapping[str, int]]], node: Node) -> str | None:
    """The first rule (with its usage) that `node` would break, as its filter reason."""
    for rule, used in props:
        why = property_misfit(rule, used, node)
        if why is not None:
            return why
    return None


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
    props: Sequence[tuple[PropertyRule, Mapping[str, int]]] = (),
    disk: int = 0,
) -> tuple[str, str] | None:
    """None if the allocation fits now; else (kind, name) with kind "constraint" (filtered)
    or "dimension" (exhausted). `props`: the distinct_property rules with their usage."""
    if distinct[0] and st.jobs.get(job_id):
        return ("constraint", "distinct_hosts")
    if distinct[1] and st.groups.get((job_id, group.name)):
        return ("constraint", "distinct_hosts")
    why = properties_misfit(props, st.node) if props else None
    if why is not None:
        return ("constraint", why)
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
