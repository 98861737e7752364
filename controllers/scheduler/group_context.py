"""The placer's view of one task group during one plan (`GroupCtx`, built by `group_ctx`).

What every placement of a group needs and what stays the same between them is worked out
once: its asks (CPU, memory, disk, static ports), the nodes that pass the static checks (in
the evaluation's shuffled order) with the metric of those that did not, its distinct_hosts,
distinct_property, affinity and spread rules. The walk's cursor and the per-placement spread
and property usage are kept here too, so the next placement goes on where the last stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controllers.scheduler.feasibility import (
    PLACEMENT_WIDE,
    PropertyRule,
    constraints_for,
    datacenter_ok,
    group_ask,
    group_disk,
    node_pool_ok,
    node_ready,
    property_rules,
    property_usage,
    static_filter,
    wants_distinct_hosts,
)
from controllers.scheduler.preference import PREFERENCE_LIMIT, SpreadRule, affinities_for, spread_rules
from controllers.scheduler.state import NodeState
from reconciler.model.ids import NodeId
from reconciler.model.job import Affinity, Job, TaskGroup
from reconciler.model.plan import AllocMetric


@dataclass
class GroupCtx:
    group: TaskGroup
    cpu: int
    mem: int
    distinct: tuple[bool, bool]
    feasible: list[NodeState]
    base: AllocMetric
    static_ports: list[tuple[str, int]]
    disk: int = 0
    cursor: int = 0
    sticky_nodes: set[NodeId] = field(default_factory=set)  # feasible nodes, for a sticky disk
    affinities: list[Affinity] = field(default_factory=list)
    spreads: list[SpreadRule] = field(default_factory=list)
    states: Mapping[NodeId, NodeState] = field(default_factory=dict)
    usage: list[dict[str, int]] = field(default_factory=list)  # per spread, this placement's
    props: list[PropertyRule] = field(default_factory=list)  # distinct_property constraints
    # each with its usage: counted once from the states, then kept up by `placer._note_properties`
    prop_usage: list[tuple[PropertyRule, dict[str, int]]] = field(default_factory=list)

    @property
    def prefers(self) -> bool:
        return bool(self.affinities or self.spreads)

    def limit(self, sample: int) -> int:
        """How many fitting nodes to rank: all of them (up to a bound) for preferences."""
        return max(self.group.count, PREFERENCE_LIMIT) if self.prefers else sample


def group_ctx(
    job: Job, group: TaskGroup, order: list[NodeId], states: Mapping[NodeId, NodeState], pool: int
) -> GroupCtx:
    cpu, mem = group_ask(group)
    constraints = [c for c in constraints_for(job, group) if c.operator not in PLACEMENT_WIDE]
    base = AllocMetric(nodes_in_pool=pool)
    feasible: list[NodeState] = []
    for nid in order:
        st = states[nid]
        dc = st.node.datacenter
        if not node_pool_ok(job, st.node):  # as Nomad, nodes of other pools are not even counted
            base.nodes_in_pool -= 1
            continue
        if not datacenter_ok(job, st.node):
            continue
        base.nodes_available[dc] = base.nodes_available.get(dc, 0) + (1 if node_ready(st.node) else 0)
        if not node_ready(st.node):
            continue
        base.nodes_evaluated += 1
        why = static_filter(job, group, st.node, constraints)
        if why is not None:
            base.filter_node(why)
            continue
        feasible.append(st)
    for dc in job.datacenters:
        if "*" not in dc and "?" not in dc:
            base.nodes_available.setdefault(dc, 0)
    static = [(p.label, p.static) for net in group.networks for p in net.ports if p.static]
    disk = group.ephemeral_disk
    sticky = {st.node.id for st in feasible} if disk.sticky or disk.migrate else set()
    props = property_rules(job, group)
    return GroupCtx(
        group,
        cpu,
        mem,
        wants_distinct_hosts(job, group),
        feasible,
        base,
        static,
        affinities=affinities_for(job, group),
        spreads=spread_rules(job, group),
        states=states,
        disk=group_disk(group),
        sticky_nodes=sticky,
        props=props,
        prop_usage=[(r, property_usage(r, job.id, states.values())) for r in props],
    )
