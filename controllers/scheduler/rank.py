"""Ranking feasible nodes: bin-packing score with an anti-affinity penalty, over a limited
sample (Nomad ranks max(2, ceil(log2(n))) feasible nodes per placement, not all of them).

Scores are in [0, 1] (higher is better) for the fit, and in [-1, 0) for the penalty; the
final score is the mean of the scores that apply, as Nomad normalises them (with a group's
affinity and spread scores, see `preference`).

`scan` is the placer's walk over a group's feasible nodes (`group_context.GroupCtx`): the
ranking above and the fit checks, inlined in one pass for speed; `placed_score` is the
score it gave the chosen node, kept on the allocation.
"""

from __future__ import annotations

import itertools
import math
import random

from controllers.scheduler.buckets import AllocPlace
from controllers.scheduler.feasibility import properties_misfit
from controllers.scheduler.group_context import GroupCtx
from controllers.scheduler.ports import port_clash
from controllers.scheduler.preference import affinity_score, spread_score
from controllers.scheduler.state import NodeState
from reconciler.model.ids import NodeId
from reconciler.model.job import Job
from reconciler.model.objects import Node

_Candidate = tuple[float, int, NodeState]  # (score, -rank of discovery, node)


def sample_limit(n_nodes: int, *, batch: bool = False) -> int:
    """How many fitting nodes to rank per placement: Nomad ranks 2 for batch jobs (the power
    of two choices) and max(2, ceil(log2(n))) for the others."""
    if batch or n_nodes <= 0:
        return 2
    return max(2, math.ceil(math.log2(n_nodes)))


def binpack_score(st: NodeState, cpu: int, mem: int) -> float:
    """Nomad's ScoreFit: fuller nodes score higher, so instances pack onto fewer nodes."""
    free_cpu = 1.0 - (st.cpu_used + cpu) / st.cpu_total if st.cpu_total else 0.0
    free_mem = 1.0 - (st.mem_used + mem) / st.mem_total if st.mem_total else 0.0
    total: float = 10.0**free_cpu + 10.0**free_mem  # in [2, 20]
    return (20.0 - total) / 18.0


def anti_affinity_penalty(collisions: int, desired: int) -> float:
    """-(collisions+1)/desired when the node already runs this job's group (0 otherwise)."""
    if collisions <= 0:
        return 0.0
    return -float(collisions + 1) / float(max(desired, 1))


def score(st: NodeState, cpu: int, mem: int, collisions: int, desired: int) -> float:
    fit = binpack_score(st, cpu, mem)
    if collisions <= 0:
        return fit
    return (fit + anti_affinity_penalty(collisions, desired)) / 2.0


def shuffled(node_ids: list[NodeId], seed: str) -> list[NodeId]:
    """A replayable shuffle: the same evaluation id always visits nodes in the same order."""
    out = sorted(node_ids)
    random.Random(seed).shuffle(out)
    return out


def scan(
    job: Job, ctx: GroupCtx, p: AllocPlace, limit: int
) -> tuple[NodeState | None, list[_Candidate], list[tuple[str, str]]]:
    """The hot path: walks on from `ctx.cursor` until `limit` nodes fit, with the same checks
    as `feasibility.dynamic_filter` and the same score as this module's `score`, inlined (one pass, no
    per-node calls; a test holds them equal). The best (the first of equal scores), every
    node that fits, and why the others did not."""
    feasible = ctx.feasible
    n = len(feasible)
    desired = float(max(ctx.group.count, 1))
    key = (job.id, ctx.group.name)
    job_id = job.id
    cpu, mem, disk = ctx.cpu, ctx.mem, ctx.disk
    djob, dgroup = ctx.distinct
    static = ctx.static_ports
    prefers = ctx.prefers
    props = ctx.prop_usage
    avoid = _avoided(p)
    cands: list[_Candidate] = []
    misfits: list[tuple[str, str]] = []
    best: NodeState | None = None
    best_s = -1e18
    found = 0
    start = nxt = ctx.cursor  # a walk through every node ends where it started
    for j in itertools.chain(range(start, n), range(start)):
        st = feasible[j]
        collisions = st.groups.get(key, 0)
        filtered = (
            "distinct_hosts"
            if (djob and st.jobs.get(job_id)) or (dgroup and collisions)
            else (properties_misfit(props, st.node) if props else None)
        )
        if filtered is not None:
            misfits.append(("constraint", filtered))
            continue
        cu = st.cpu_used + cpu
        if cu > st.cpu_total:
            misfits.append(("dimension", "cpu"))
            continue
        mu = st.mem_used + mem
        if mu > st.mem_total or st.disk_used + disk > st.disk_total:
            misfits.append(("dimension", "memory" if mu > st.mem_total else "disk"))
            continue
        clash = port_clash(static, st.ports) if static else None
        if clash is not None:
            misfits.append(("dimension", clash))
            continue
        s = (20.0 - 10.0 ** (1.0 - cu / st.cpu_total) - 10.0 ** (1.0 - mu / st.mem_total)) / 18.0
        if prefers:
            s = _combined(ctx, st.node, s, collisions, desired)
        elif collisions:
            s = (s - (collisions + 1) / desired) / 2.0
        s -= st.node.id == avoid  # 1 off where the replaced allocation ran ("" is no node)
        cands.append((s, -found, st))
        if s > best_s:  # strictly: the first of equal scores wins
            best_s, best = s, st
        found += 1
        if found == limit:
            nxt = (j + 1) % n
            break
    ctx.cursor = nxt
    return best, cands, misfits


def placed_score(job: Job, ctx: GroupCtx, p: AllocPlace, st: NodeState) -> float:
    """The chosen node's normalised score, as `scan` ranked it (before the allocation is
    charged to the node, with the penalty of the node it is avoiding): kept on the
    allocation for `disconnect.reconcile = "best_score"`."""
    fit = binpack_score(st, ctx.cpu, ctx.mem)
    collisions = st.groups.get((job.id, ctx.group.name), 0)
    desired = float(max(ctx.group.count, 1))
    if ctx.prefers:
        s = _combined(ctx, st.node, fit, collisions, desired)
    else:
        s = (fit - (collisions + 1) / desired) / 2.0 if collisions else fit
    return s - (st.node.id == _avoided(p))


def _avoided(p: AllocPlace) -> str:
    """The node a rescheduled, lost or migrated allocation ran on (scored 1 lower), or ""."""
    if p.previous is not None and p.reason in ("reschedule", "lost", "migrate"):
        return p.previous.node_id
    return ""


def _combined(ctx: GroupCtx, node: Node, fit: float, collisions: int, desired: float) -> float:
    """The mean of the fit, the anti-affinity penalty, the affinity and the spread scores
    that apply (Nomad's score normalisation); `score` without preferences."""
    scores = [fit]
    if collisions:
        scores.append(-(collisions + 1) / desired)
    if ctx.affinities:
        scores.append(affinity_score(ctx.affinities, node))
    if ctx.spreads:
        spread = spread_score(ctx.spreads, ctx.usage, node)
        if spread:
            scores.append(spread)
    return sum(scores) / len(scores)


def rank_key(c: tuple[float, int, NodeState]) -> tuple[float, int]:
    """Sorts `scan`'s candidates by score, then the earlier found first (with reverse=True)."""
    return (c[0], c[1])
