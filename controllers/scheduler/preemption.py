"""Preemption, pure: which allocations of a node to evict so a higher-priority placement fits.

Nomad's rule (scheduler/feasible/preemption.go), for CPU and memory:

- only allocations of other jobs whose priority is at least `PRIORITY_DELTA` (10) below the
  placing job's are candidates;
- candidates are taken lowest priority first; within one priority, the one "closest" to
  what is still needed (the distance of `distance`, plus `MAX_PARALLEL_PENALTY` for each
  allocation of the same job and group beyond its migrate `max_parallel` already preempted
  in this plan), until the node's free capacity covers the ask;
- a second pass keeps only as many of those as needed, taken farthest from the ask first
  (so one big allocation replaces several small ones).

A node where placement needs preemption is scored with `preemption_score` of the chosen
set (Nomad's logistic curve over the net priority), averaged with its bin-packing fit, so
the scheduler prefers nodes whose preemptions are of lower, fewer priorities.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.model.ids import AllocId

PRIORITY_DELTA = 10  # a job preempts only jobs at least this much lower in priority
MAX_PARALLEL_PENALTY = 50.0

GroupKey = tuple[str, str, str]  # (namespace, job id, task group)


@dataclass(frozen=True)
class Candidate:
    """A running allocation of another job on the node, as preemption sees it."""

    alloc_id: AllocId
    namespace: str
    job_id: str
    group: str
    priority: int
    cpu: int
    memory: int
    max_parallel: int = 0  # the group's migrate max_parallel (0: no penalty)
    alloc: Any = None  # the live record it stands for (the caller's, passed through)

    @property
    def group_key(self) -> GroupKey:
        return (self.namespace, self.job_id, self.group)


def distance(ask_cpu: int, ask_mem: int, cpu: int, mem: int) -> float:
    """How far an allocation's resources are from what is asked (0: exactly the ask);
    a dimension not asked for (<= 0) does not count."""
    c = (ask_cpu - cpu) / ask_cpu if ask_cpu > 0 else 0.0
    m = (ask_mem - mem) / ask_mem if ask_mem > 0 else 0.0
    return math.sqrt(c * c + m * m)


def _penalised(ask: tuple[int, int], c: Candidate, already: Mapping[GroupKey, int]) -> float:
    n = already.get(c.group_key, 0)
    penalty = (n + 1 - c.max_parallel) * MAX_PARALLEL_PENALTY if 0 < c.max_parallel <= n else 0.0
    return distance(ask[0], ask[1], c.cpu, c.memory) + penalty


def _by_priority(priority: int, candidates: Sequence[Candidate]) -> list[list[Candidate]]:
    groups: dict[int, list[Candidate]] = {}
    for c in candidates:
        if priority - c.priority >= PRIORITY_DELTA:
            groups.setdefault(c.priority, []).append(c)
    return [groups[p] for p in sorted(groups)]


def choose_preemptions(
    *,
    priority: int,
    ask_cpu: int,
    ask_mem: int,
    free_cpu: int,
    free_mem: int,
    candidates: Sequence[Candidate],
    already: Mapping[GroupKey, int] | None = None,
) -> list[Candidate] | None:
    """The allocations to evict so `ask_cpu`/`ask_mem` fit in a node that has
    `free_cpu`/`free_mem` left with every candidate still running; None when evicting every
    eligible candidate would not be enough. `already` counts this plan's earlier
    preemptions per (namespace, job, group), for the max_parallel penalty."""
    seen = already or {}
    need = [ask_cpu, ask_mem]
    avail = [free_cpu, free_mem]
    chosen: list[Candidate] = []
    met = avail[0] >= ask_cpu and avail[1] >= ask_mem
    for group in _by_priority(priority, candidates):
        pool = list(group)
        while pool and not met:
            best = min(pool, key=lambda c: _penalised((need[0], need[1]), c, seen))
            pool.remove(best)
            chosen.append(best)
            avail = [avail[0] + best.cpu, avail[1] + best.memory]
            need = [need[0] - best.cpu, need[1] - best.memory]
            met = avail[0] >= ask_cpu and avail[1] >= ask_mem
        if met:
            break
    if not met:
        return None
    return _fewest(chosen, ask_cpu, ask_mem, free_cpu, free_mem)


def _fewest(
    chosen: list[Candidate], ask_cpu: int, ask_mem: int, free_cpu: int, free_mem: int
) -> list[Candidate]:
    """The second pass: farthest from the ask first, only until the ask fits."""
    ordered = sorted(chosen, key=lambda c: distance(ask_cpu, ask_mem, c.cpu, c.memory), reverse=True)
    out: list[Candidate] = []
    cpu, mem = free_cpu, free_mem
    for c in ordered:
        out.append(c)
        cpu, mem = cpu + c.cpu, mem + c.memory
        if cpu >= ask_cpu and mem >= ask_mem:
            break
    return out


def net_priority(priorities: Sequence[int]) -> float:
    """The highest priority preempted, plus the sum over it: many preemptions of a low
    priority weigh more than one."""
    if not priorities:
        return 0.0
    top = float(max(priorities))
    return top + sum(priorities) / top if top > 0 else 0.0


def preemption_score(priorities: Sequence[int]) -> float:
    """In (0, 1], higher for cheaper preemptions: Nomad's logistic curve, 0.5 at a net
    priority of 2048."""
    return 1.0 / (1.0 + math.exp(0.0048 * (net_priority(priorities) - 2048.0)))
