"""One scheduling decision for one job, pure: reconcile, then place, then the writes.

`decide_batches` is what the controller runs (it commits each yielded batch while the next
is placed) and `decide` what `plan_job` runs (it only reports the result): one decision, so
a dry-run shows exactly what an evaluation would do. Neither does I/O or reads a clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from controllers.scheduler.allocs import is_terminal
from controllers.scheduler.buckets import ReconcileResult
from controllers.scheduler.placer import Placements, place_batches
from controllers.scheduler.preempting import Eviction, JobFacts, JobKey, Preempting
from controllers.scheduler.reconcile import reconcile
from controllers.scheduler.state import NodeState, build_states, states_from_usage
from controllers.scheduler.stream import drained
from controllers.scheduler.update_policy import UpdateFn, tasks_updated
from controllers.scheduler.usage import UsageSnapshot
from reconciler.model.ids import AllocId, EvalId, NodeId
from reconciler.model.job import Job
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, Deployment, DesiredStatus, Node
from reconciler.model.plan import AllocMetric
from reconciler.model.services import CheckStatus


@dataclass(frozen=True)
class Decision:
    """What one evaluation of a job does: the allocations to write, and what stays undone."""

    result: ReconcileResult
    new_allocs: list[Allocation] = field(default_factory=list)
    updated_allocs: list[Allocation] = field(default_factory=list)  # stops, in-place, links
    failed: dict[str, AllocMetric] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    followup_at: float | None = None  # a follow-up evaluation (delayed rescheduling)
    look_again_at: float | None = None  # decide again then (a migration's min_healthy_time)
    evictions: list[Eviction] = field(default_factory=list)  # other jobs' allocations preempted
    preempted: list[Allocation] = field(default_factory=list)  # those allocations, evicted

    @property
    def writes(self) -> int:
        return len(self.new_allocs) + len(self.updated_allocs) + len(self.preempted)


def _deployment_stamp(
    deployment: Deployment | None, version: int
) -> Callable[[list[Allocation]], list[Allocation]] | None:
    """New allocations of the deployment's version carry its id (set before they are written)."""
    if deployment is None or deployment.job_version != version:
        return None
    dep_id = deployment.id
    return lambda allocs: [dataclasses.replace(a, deployment_id=dep_id) for a in allocs]


def decide_batches(
    job: Job | None,
    version: int,
    job_allocs: list[Allocation],
    all_allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    nodes: Mapping[NodeId, Node],
    *,
    eval_id: EvalId,
    now: float,
    versions: Mapping[int, Job] | None = None,
    max_replace: Mapping[str, int] | None = None,
    update_fn: UpdateFn = tasks_updated,
    deployment: Deployment | None = None,
    checks: Mapping[AllocId, Sequence[CheckStatus]] | None = None,
    preempt: bool = False,
    other_jobs: Mapping[JobKey, JobFacts] | None = None,
    usage: UsageSnapshot | None = None,
) -> Generator[list[Allocation], None, Decision]:
    """Yields the new allocations in batches while placement goes on (the controller writes
    each one before the next is placed: see `stream`), each batch led by the other jobs'
    allocations its placements preempted (`Decision.preempted`, evicted), then returns the
    `Decision`, whose `new_allocs` are exactly the yielded new allocations and whose
    `updated_allocs` are left to the caller to write after them. With `preempt` (the scheduler
    configuration allows this job's type), placement may evict allocations of jobs at least
    10 lower in priority (`other_jobs`: (namespace, job) -> its facts; a job not in it has
    priority 50). With `usage` (the cluster's usage per node, `usage.UsageIndex`) the node
    states start from it rather than from summing `all_allocs` (which preemption still
    reads: it needs the allocations themselves)."""
    res = reconcile(
        job,
        job_allocs,
        statuses,
        nodes=nodes,
        job_version=version,
        versions=versions,
        now=now,
        max_replace=max_replace,
        update_fn=update_fn,
        deployment=deployment,
        checks=checks,
    )
    stopping = {s.alloc.id for s in res.stop}
    new_allocs: list[Allocation] = []
    failed: dict[str, AllocMetric] = {}
    queued: dict[str, int] = {}
    pre: Preempting | None = None
    preempted: list[Allocation] = []
    evictions_seen = 0
    if job is not None and res.place:
        states, pre = _plan_states(
            job, nodes, stopping, usage, all_allocs, statuses, (other_jobs or {}) if preempt else None
        )
        stamp = _deployment_stamp(deployment, version)
        batches = place_batches(job, version, res.place, nodes, states, eval_id=eval_id, now=now, preempt=pre)
        while True:
            try:
                batch = next(batches)
            except StopIteration as done:
                placed: Placements = done.value
                break
            if stamp is not None:
                batch = stamp(batch)
            new_allocs.extend(batch)
            evicted = _evicted(pre, now, since=evictions_seen)
            evictions_seen = len(pre.evictions) if pre is not None else 0
            preempted.extend(evicted)
            yield [*evicted, *batch]  # room is made no later than it is taken
        failed, queued = placed.failed, placed.queued
    next_of = {a.previous_allocation: a.id for a in new_allocs if a.previous_allocation}
    changed = _updates(res, next_of, version, now)
    return Decision(
        res,
        new_allocs=new_allocs,
        updated_allocs=changed,
        failed=failed,
        queued=queued,
        followup_at=res.followup_at(),
        look_again_at=res.look_again_at(),
        evictions=list(pre.evictions) if pre is not None else [],
        preempted=preempted,
    )


def _updates(
    res: ReconcileResult, next_of: Mapping[AllocId, AllocId], version: int, now: float
) -> list[Allocation]:
    """The allocations the decision changes: stops, in-place updates, the links from a
    rescheduled allocation to its replacement, and the unknown marked or cleared."""
    changed: dict[str, Allocation] = {}
    for s in res.stop:
        changed[s.alloc.id] = dataclasses.replace(
            s.alloc,
            desired_status=DesiredStatus.STOP,
            desired_description=s.description,
            client_status=s.client_status or s.alloc.client_status,
            next_allocation=next_of.get(s.alloc.id, s.alloc.next_allocation),
            modify_time=now,
        )
    for a in res.inplace_update:
        changed[a.id] = dataclasses.replace(a, job_version=version, modify_time=now)
    for a in res.reschedule_now:
        if a.id in next_of and a.id not in changed:
            changed[a.id] = dataclasses.replace(a, next_allocation=next_of[a.id], modify_time=now)
    for a in res.disconnect:  # unknown from now on (its replacement, if any, named)
        base = changed.get(a.id, a)
        if base.desired_status == DesiredStatus.RUN:
            changed[a.id] = dataclasses.replace(
                base, client_status=ClientStatus.UNKNOWN, disconnected_at=now, modify_time=now
            )
    for a in res.reconnect:  # back: the agent's reports count again
        base = changed.get(a.id, a)
        changed[a.id] = dataclasses.replace(base, client_status=None, disconnected_at=0.0, modify_time=now)
    return list(changed.values())


def _plan_states(
    job: Job,
    nodes: Mapping[NodeId, Node],
    stopping: set[AllocId],
    usage: UsageSnapshot | None,
    all_allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    preempt_among: Mapping[JobKey, JobFacts] | None,
) -> tuple[dict[NodeId, NodeState], Preempting | None]:
    """The node states the plan starts from (every running allocation charged but those it
    stops), and with `preempt_among` (preemption allowed) what preemption may evict."""
    if usage is not None and preempt_among is None:
        back = (c for aid, c in usage.charged.items() if aid in stopping)
        return states_from_usage(nodes, usage.nodes, back), None
    live = [
        a
        for a in all_allocs
        if a.desired_status == DesiredStatus.RUN and a.id not in stopping and not is_terminal(a, statuses)
    ]
    pre = None
    if preempt_among is not None:
        pre = Preempting(job.namespace, job.id, job.priority, live, preempt_among)
    return build_states(nodes, live), pre


def _evicted(pre: Preempting | None, now: float, *, since: int) -> list[Allocation]:
    """The allocations preempted after the first `since` evictions, as written: desired
    `evict`, with Nomad's description and the allocation they were evicted for (a dry-run's
    usage records are not written)."""
    if pre is None:
        return []
    return [
        dataclasses.replace(
            e.victim.alloc,
            desired_status=DesiredStatus.EVICT,
            desired_description=f"Preempted by alloc ID {e.by}",
            preempted_by_allocation=e.by,
            modify_time=now,
        )
        for e in pre.evictions[since:]
        if isinstance(e.victim.alloc, Allocation)
    ]


decide = drained(decide_batches)
"""The whole decision at once (the dry-run and the tests; see `decide_batches`)."""
