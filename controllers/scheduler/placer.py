"""Placement: choose a node for each instance the reconciler wants placed.

Per task group: the static checks (node pool, datacenter, readiness, drivers, constraints) run once per
node and the survivors are visited in an order shuffled from the evaluation id. Per
placement, the walk continues where the last one stopped (as Nomad's iterator does) and
ranks the first `sample_limit(n)` nodes that fit now (distinct_hosts, distinct_property, CPU,
memory, disk, static ports); the best score wins and gets its dynamic ports. A group whose placement
fails stops trying (Nomad coalesces the remaining failures into the first one's metrics).

A replacement of a group whose `ephemeral_disk` is `sticky` or `migrate` first tries the
node its previous allocation ran on (Nomad's preferred node), so that the node agent can
hand the old `alloc/data` over locally; only if that node is no longer feasible or full
does the normal walk run.

What a group's placements share is in `group_context`; the walk that ranks the nodes is
`rank.scan`; a new allocation is built by `new_alloc`; with preemption, `preempting` walks.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field

from controllers.scheduler.buckets import AllocPlace
from controllers.scheduler.feasibility import (
    PLACEMENT_WIDE,
    constraints_for,
    count_placement,
    datacenter_ok,
    dynamic_filter,
    node_pool_ok,
    node_ready,
    properties_misfit,
    static_filter,
)
from controllers.scheduler.group_context import GroupCtx, group_ctx
from controllers.scheduler.new_alloc import fast_ids, new_alloc
from controllers.scheduler.ports import assign_ports, port_clash
from controllers.scheduler.preempting import Preempting, freed_ports
from controllers.scheduler.preempting import select as select_preempting
from controllers.scheduler.preemption import Candidate
from controllers.scheduler.preference import spread_usage
from controllers.scheduler.rank import rank_key, sample_limit, scan, shuffled
from controllers.scheduler.state import NodeState
from controllers.scheduler.stream import drained
from reconciler.model.ids import EvalId, NodeId, new_id
from reconciler.model.job import Job, JobType
from reconciler.model.objects import AllocatedPort, Allocation, Node
from reconciler.model.plan import AllocMetric

PORTS_EXHAUSTED = "network: dynamic port selection failed"


_Fit = tuple[NodeState, list[AllocatedPort]]


@dataclass(frozen=True)
class Placements:
    allocs: list[Allocation] = field(default_factory=list)
    failed: dict[str, AllocMetric] = field(default_factory=dict)  # group -> why
    queued: dict[str, int] = field(default_factory=dict)  # group -> instances not placed


def _copy_metric(m: AllocMetric) -> AllocMetric:
    return AllocMetric(
        nodes_evaluated=m.nodes_evaluated,
        nodes_filtered=m.nodes_filtered,
        nodes_in_pool=m.nodes_in_pool,
        nodes_available=dict(m.nodes_available),
        constraint_filtered=dict(m.constraint_filtered),
    )


def place_batches(
    job: Job,
    version: int,
    wanted: list[AllocPlace],
    nodes: Mapping[NodeId, Node],
    states: dict[NodeId, NodeState],
    *,
    eval_id: EvalId,
    now: float,
    batch: int = 125,
    preempt: Preempting | None = None,
) -> Generator[list[Allocation], None, Placements]:
    """`place`, yielding the new allocations every `batch` placements and the remainder at
    the end (the controller commits each batch while the next is being placed); returns the
    whole `Placements`. Each yielded list is a new list, never changed afterwards. With
    `preempt`, a placement no node has room for may evict lower-priority allocations
    (recorded in `preempt.evictions`)."""
    out = Placements()
    if not wanted:
        return out
    rng = random.Random(eval_id)
    order = shuffled(list(nodes), eval_id)
    limit = sample_limit(len(nodes), batch=job.type == JobType.BATCH)
    ids = fast_ids(random.Random(new_id()))
    sunk = 0
    groups = (job.group(name) for name in dict.fromkeys(p.task_group for p in wanted))
    ctxs = {g.name: group_ctx(job, g, order, states, len(nodes)) for g in groups if g is not None}
    tracked = [c for c in ctxs.values() if c.props]  # groups with distinct_property rules
    for p in wanted:
        ctx = ctxs.get(p.task_group)
        if ctx is None:
            continue
        chosen, metric, victims = _choose(job, ctx, p, out, nodes, rng, ctx.limit(limit), preempt)
        if chosen is None:
            if metric is not None:
                _note_failure(out, p.task_group, metric)
            continue
        alloc = new_alloc(job, version, ctx, p, chosen, alloc_id=next(ids), eval_id=eval_id, now=now)
        if victims and preempt is not None:
            preempt.evict(chosen[0], victims, alloc.id)
            alloc = dataclasses.replace(alloc, preempted_allocations=[v.alloc_id for v in victims])
        chosen[0].add(alloc)
        _note_properties(tracked, alloc, chosen[0].node)
        out.allocs.append(alloc)
        if len(out.allocs) - sunk >= batch:
            yield out.allocs[sunk:]
            sunk = len(out.allocs)
    if len(out.allocs) > sunk:
        yield out.allocs[sunk:]
    return out


def _choose(
    job: Job,
    ctx: GroupCtx,
    p: AllocPlace,
    out: Placements,
    nodes: Mapping[NodeId, Node],
    rng: random.Random,
    limit: int,
    preempt: Preempting | None,
) -> tuple[_Fit | None, AllocMetric | None, list[Candidate]]:
    """The node for one placement (and the allocations to evict for it), or why none.
    Once a group's walk without eviction found no room in this plan, its next placements
    walk with eviction allowed straight away (that walk takes a node with room first), so
    a full cluster is not scanned twice per placement."""
    if p.node_id:
        chosen, metric = _on_node(job, ctx, p, nodes, ctx.states, rng)
    elif p.task_group in out.failed:  # a group whose placement failed stops trying
        return None, out.failed[p.task_group], []
    elif preempt is not None and p.task_group in preempt.full_groups:
        chosen, victims = _preempting(job, ctx, p, preempt, limit, rng)
        if chosen is not None:
            return chosen, None, victims
        chosen, metric = _select(job, ctx, p, limit, rng)  # why nothing fits, or room after all
    else:
        chosen, metric = _select(job, ctx, p, limit, rng)
    if chosen is None and metric is not None and preempt is not None:
        if not p.node_id:
            preempt.full_groups.add(p.task_group)
        chosen, victims = _preempting(job, ctx, p, preempt, limit, rng)
        return chosen, metric, victims
    return chosen, metric, []


def _note_failure(out: Placements, group: str, metric: AllocMetric) -> None:
    """The group's first failure keeps its metric; later ones are coalesced into it."""
    failed = out.failed.get(group)
    if failed is not None:
        failed.coalesced_failures += 1
    else:
        out.failed[group] = metric
    out.queued[group] = out.queued.get(group, 0) + 1


place = drained(place_batches)
"""Place `wanted` at once, charging `states` (mutated: it is this plan's working copy)."""


def _on_node(
    job: Job,
    ctx: GroupCtx,
    p: AllocPlace,
    nodes: Mapping[NodeId, Node],
    states: Mapping[NodeId, NodeState],
    rng: random.Random,
) -> tuple[_Fit | None, AllocMetric | None]:
    """System jobs: this one node or nothing. Statically infeasible nodes are skipped
    silently (a system job only runs where it can); a full node is a failure."""
    st = states.get(p.node_id)
    if (
        st is None
        or not datacenter_ok(job, st.node)
        or not node_pool_ok(job, st.node)
        or not node_ready(st.node)
    ):
        return None, None
    constraints = [c for c in constraints_for(job, ctx.group) if c.operator not in PLACEMENT_WIDE]
    if static_filter(job, ctx.group, st.node, constraints) is not None:
        return None, None
    metric = AllocMetric(nodes_evaluated=1, nodes_in_pool=len(nodes), nodes_available={st.node.datacenter: 1})
    why = dynamic_filter(job.id, ctx.group, st, ctx.cpu, ctx.mem, ctx.distinct, ctx.prop_usage, disk=ctx.disk)
    if why is not None:
        _record_misfit(metric, *why)
        return None, metric
    ports = assign_ports(
        ctx.group.networks, st.ports, st.node.min_dynamic_port, st.node.max_dynamic_port, rng, st.node.address
    )
    if ports is None:
        metric.exhaust_node(PORTS_EXHAUSTED)
        return None, metric
    return (st, ports), None


def _preempting(
    job: Job, ctx: GroupCtx, p: AllocPlace, pre: Preempting, limit: int, rng: random.Random
) -> tuple[_Fit | None, list[Candidate]]:
    """A node made room on by evicting lower-priority allocations (`preempting.select`): the
    asked node for a system job, else the feasible nodes; with its ports, and the victims."""
    djob, dgroup = ctx.distinct
    key = (job.id, ctx.group.name)

    def fits_otherwise(st: NodeState) -> bool:
        if (djob and st.jobs.get(job.id)) or (dgroup and st.groups.get(key, 0)):
            return False
        if ctx.prop_usage and properties_misfit(ctx.prop_usage, st.node) is not None:
            return False
        return not (ctx.static_ports and port_clash(ctx.static_ports, st.ports))

    nodes = [ctx.states[p.node_id]] if p.node_id and p.node_id in ctx.states else ctx.feasible
    got = select_preempting(
        nodes,
        fits_otherwise,
        pre,
        cpu=ctx.cpu,
        mem=ctx.mem,
        group_key=key,
        desired=ctx.group.count,
        limit=limit,
    )
    if got is None:
        return None, []
    st, victims = got
    node = st.node
    ports = (
        assign_ports(
            ctx.group.networks,
            freed_ports(st, victims),
            node.min_dynamic_port,
            node.max_dynamic_port,
            rng,
            node.address,
        )
        if ctx.group.networks
        else []
    )
    return ((st, ports), victims) if ports is not None else (None, [])


def _select(
    job: Job, ctx: GroupCtx, p: AllocPlace, limit: int, rng: random.Random
) -> tuple[_Fit | None, AllocMetric | None]:
    """The best of the next `limit` nodes that fit (`rank.scan`) with its dynamic ports; if its
    ports run out, the next by rank. Else the metric of every node that did not fit. A
    replacement with a sticky disk takes its previous node first when it fits (`_preferred`)."""
    preferred = _preferred(job, ctx, p, rng)
    if preferred is not None:
        return preferred, None
    if ctx.spreads:
        key = (job.id, ctx.group.name)
        ctx.usage = [spread_usage(r, ctx.states.values(), key) for r in ctx.spreads]
    best, cands, misfits = scan(job, ctx, p, limit)
    if best is not None:
        ports = _ports_for(ctx, best, rng)
        if ports is not None:
            return (best, ports), None
        misfits.append(("dimension", PORTS_EXHAUSTED))
        cands.sort(key=rank_key, reverse=True)
        for _, _, st in cands[1:]:
            ports = _ports_for(ctx, st, rng)
            if ports is not None:
                return (st, ports), None
            misfits.append(("dimension", PORTS_EXHAUSTED))
    metric = _copy_metric(ctx.base)
    for kind, name in misfits:
        _record_misfit(metric, kind, name)
    return None, metric


def _preferred(job: Job, ctx: GroupCtx, p: AllocPlace, rng: random.Random) -> _Fit | None:
    """Nomad's findPreferredNode: the previous allocation's node, when the group's disk is
    sticky or migrates and that node still passes every check (ready, in the job's
    datacenters, static filters: `ctx.sticky_nodes`) and fits now; else None."""
    prev = p.previous
    if prev is None or prev.node_id not in ctx.sticky_nodes:
        return None
    st = ctx.states.get(prev.node_id)
    if st is None or dynamic_filter(
        job.id, ctx.group, st, ctx.cpu, ctx.mem, ctx.distinct, ctx.prop_usage, disk=ctx.disk
    ):
        return None
    ports = _ports_for(ctx, st, rng)
    return None if ports is None else (st, ports)


def _note_properties(tracked: list[GroupCtx], alloc: Allocation, node: Node) -> None:
    """Count a placement in the distinct_property usage of every group it concerns: a
    job-level rule counts every group's allocations, a group-level one its own."""
    for ctx in tracked:
        count_placement(ctx.prop_usage, alloc.task_group, node)


def _record_misfit(metric: AllocMetric, kind: str, name: str) -> None:
    """A node that does not fit: filtered by a "constraint", or a "dimension" exhausted."""
    if kind == "constraint":
        metric.filter_node(name)
    else:
        metric.exhaust_node(name)


def _ports_for(ctx: GroupCtx, st: NodeState, rng: random.Random) -> list[AllocatedPort] | None:
    if not ctx.group.networks:
        return []
    node = st.node
    return assign_ports(
        ctx.group.networks, st.ports, node.min_dynamic_port, node.max_dynamic_port, rng, node.address
    )
