"""Placement with preemption: the walk the placer takes when no node fits as it is and the
scheduler configuration lets this job's type preempt (Nomad selects again with eviction
allowed only after a selection without it failed).

`Preempting` is one plan's view of what may be evicted: the live allocations of other jobs
per node (indexed on first use: most plans never preempt), with their jobs' priorities and
migrate `max_parallel` (`JobFacts`), and the evictions this plan made so far (their
resources are free for the next placements).
Which allocations of one node to evict is `preemption.choose_preemptions`; this module
walks the nodes, scores the options and keeps the node state in step.

Only CPU and memory are preempted for: a node whose static ports collide stays infeasible.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from controllers.scheduler.preemption import (
    PRIORITY_DELTA,
    Candidate,
    GroupKey,
    choose_preemptions,
    preemption_score,
)
from controllers.scheduler.rank import anti_affinity_penalty
from controllers.scheduler.state import NodeState
from reconciler.model.evals import DEFAULT_PRIORITY
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import Job, JobType

JobKey = tuple[str, str]  # (namespace, job id)


@dataclass(frozen=True)
class JobFacts:
    """What preemption needs of another job: its priority and, per group, its migrate
    `max_parallel` (0: none; Nomad gives a service job's groups a migrate block by default,
    the other types none)."""

    priority: int = DEFAULT_PRIORITY
    max_parallel: Mapping[str, int] = field(default_factory=dict)


UNKNOWN_JOB = JobFacts()


@dataclass(frozen=True)
class Eviction:
    """One allocation this plan preempts, and the new allocation it makes room for."""

    victim: Candidate
    by: AllocId


@dataclass
class Preempting:
    namespace: str
    job_id: str
    priority: int
    live: Sequence[Any]  # the live allocations of the cluster (Allocation or a usage record)
    jobs: Mapping[JobKey, JobFacts]
    evictions: list[Eviction] = field(default_factory=list)
    _by_node: dict[NodeId, list[Candidate]] | None = None
    _evicted: set[AllocId] = field(default_factory=set)
    _counts: Counter[GroupKey] = field(default_factory=Counter)  # evictions per group so far
    cursors: dict[str, int] = field(default_factory=dict)  # per task group: where the walk goes on
    full_groups: set[str] = field(default_factory=set)  # groups a walk without eviction failed for

    def _index(self) -> dict[NodeId, list[Candidate]]:
        if self._by_node is None:
            by: dict[NodeId, list[Candidate]] = {}
            seen: dict[JobKey, JobFacts] = {}
            for a in self.live:
                if a.namespace == self.namespace and a.job_id == self.job_id:
                    continue
                jk = (a.namespace, a.job_id)
                facts = seen.get(jk)
                if facts is None:
                    facts = seen[jk] = self.jobs.get(jk, UNKNOWN_JOB)
                if self.priority - facts.priority < PRIORITY_DELTA:
                    continue  # never a candidate
                by.setdefault(a.node_id, []).append(_candidate(a, facts))
            self._by_node = by
        return self._by_node

    def candidates(self, node_id: NodeId) -> list[Candidate]:
        return [c for c in self._index().get(node_id, ()) if c.alloc_id not in self._evicted]

    def already(self) -> Counter[GroupKey]:
        return self._counts

    def choose(self, st: NodeState, cpu: int, mem: int) -> list[Candidate] | None:
        cands = self.candidates(st.node.id)
        if not cands:
            return None
        return choose_preemptions(
            priority=self.priority,
            ask_cpu=cpu,
            ask_mem=mem,
            free_cpu=st.cpu_total - st.cpu_used,
            free_mem=st.mem_total - st.mem_used,
            candidates=cands,
            already=self.already(),
        )

    def evict(self, st: NodeState, victims: Iterable[Candidate], by: AllocId) -> None:
        """Record the evictions and free their resources on the node's state."""
        for v in victims:
            self._evicted.add(v.alloc_id)
            self._counts[v.group_key] += 1
            self.evictions.append(Eviction(v, by))
            st.cpu_used -= v.cpu
            st.mem_used -= v.memory
            for p in v.alloc.ports or ():
                st.ports.discard(p.value)
            key = (v.job_id, v.group)
            st.groups[key] = st.groups.get(key, 1) - 1
            st.jobs[v.job_id] = st.jobs.get(v.job_id, 1) - 1


def _candidate(a: Any, facts: JobFacts) -> Candidate:
    return Candidate(
        alloc_id=a.id,
        namespace=a.namespace,
        job_id=a.job_id,
        group=a.task_group,
        priority=facts.priority,
        cpu=a.cpu,
        memory=a.memory,
        max_parallel=facts.max_parallel.get(a.task_group, 0),
        alloc=a,
    )


def job_facts(job: Job) -> JobFacts:
    """A job's `JobFacts` (its groups' migrate max_parallel only for a service job)."""
    service = job.type == JobType.SERVICE
    return JobFacts(
        job.priority, {g.name: g.migrate.max_parallel for g in job.task_groups} if service else {}
    )


def freed_ports(st: NodeState, victims: Sequence[Candidate]) -> set[int]:
    """The node's ports in use once `victims` are gone."""
    gone = {p.value for v in victims for p in (v.alloc.ports or ())}
    return st.ports - gone


def score_with(
    st: NodeState, cpu: int, mem: int, victims: Sequence[Candidate], collisions: int, desired: int
) -> float:
    """The node's score if `victims` make room: the bin-packing fit after the evictions,
    the anti-affinity penalty if any, and the preemption score (when there are victims),
    averaged (Nomad's normalisation)."""
    cu = st.cpu_used - sum(v.cpu for v in victims) + cpu
    mu = st.mem_used - sum(v.memory for v in victims) + mem
    fit: float = (20.0 - 10.0 ** (1.0 - cu / st.cpu_total) - 10.0 ** (1.0 - mu / st.mem_total)) / 18.0
    scores = [fit, preemption_score([v.priority for v in victims])] if victims else [fit]
    if collisions:
        scores.append(anti_affinity_penalty(collisions, desired))
    return sum(scores) / len(scores)


def select(
    nodes: Sequence[NodeState],
    fits_otherwise: Callable[[NodeState], bool],
    pre: Preempting,
    *,
    cpu: int,
    mem: int,
    group_key: tuple[str, str],
    desired: int,
    limit: int,
) -> tuple[NodeState, list[Candidate]] | None:
    """The best of the next `limit` nodes where the ask fits, as they are or after evicting
    lower-priority allocations (`fits_otherwise`: the node passes every check but
    capacity), with the allocations to evict (none on a node with room, which always wins);
    None if no node can be freed. As the placer's walk, each walk of
    a group goes on where its last one stopped (a full cluster is not rescanned from the
    start for every placement)."""
    n = len(nodes)
    start = pre.cursors.get(group_key[1], 0) % n if n else 0
    best: tuple[tuple[bool, float], NodeState, list[Candidate]] | None = None
    found = 0
    for j in itertools.chain(range(start, n), range(start)):
        st = nodes[j]
        if st.cpu_total <= 0 or st.mem_total <= 0 or not fits_otherwise(st):
            continue
        room = st.cpu_total - st.cpu_used >= cpu and st.mem_total - st.mem_used >= mem
        victims = [] if room else pre.choose(st, cpu, mem)
        if victims is None or not (room or victims):
            continue
        # a node with room always beats one that needs evictions
        s = (room, score_with(st, cpu, mem, victims, st.groups.get(group_key, 0), desired))
        if best is None or s > best[0]:
            best = (s, st, victims)
        found += 1
        if found >= limit:
            pre.cursors[group_key[1]] = j + 1
            break
    return (best[1], best[2]) if best is not None else None
