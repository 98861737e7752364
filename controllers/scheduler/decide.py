"""One scheduling decision for one job, pure: reconcile, then place, then the writes.

`decide` is what both the controller (which commits the result) and `plan_job` (which only
reports it) run, so a dry-run shows exactly what an evaluation would do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from controllers.scheduler.placer import place
from controllers.scheduler.reconcile import ReconcileResult, UpdateFn, is_terminal, reconcile, tasks_updated
from controllers.scheduler.state import build_states
from reconciler.model.ids import AllocId, EvalId, NodeId
from reconciler.model.job import Job
from reconciler.model.objects import Allocation, AllocStatus, Deployment, DesiredStatus, Node
from reconciler.model.plan import AllocMetric


@dataclass
class Decision:
    result: ReconcileResult
    new_allocs: list[Allocation] = field(default_factory=list)
    updated_allocs: list[Allocation] = field(default_factory=list)  # stops, in-place, links
    failed: dict[str, AllocMetric] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    followup_at: float | None = None

    @property
    def writes(self) -> int:
        return len(self.new_allocs) + len(self.updated_allocs)


def _deployment_stamp(
    deployment: Deployment | None, version: int
) -> Callable[[list[Allocation]], list[Allocation]] | None:
    """New allocations of the deployment's version carry its id (set before they are written)."""
    if deployment is None or deployment.job_version != version:
        return None
    dep_id = deployment.id
    return lambda allocs: [dataclasses.replace(a, deployment_id=dep_id) for a in allocs]


def decide(
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
    sink: Callable[[list[Allocation]], None] | None = None,
    deployment: Deployment | None = None,
) -> Decision:
    """`sink` receives new allocations in batches while placement goes on (see placer)."""
    res = reconcile(
        job, job_allocs, statuses, nodes=nodes, job_version=version, versions=versions, now=now,
        max_replace=max_replace, update_fn=update_fn, deployment=deployment,
    )
    d = Decision(res, followup_at=res.followup_at())
    stopping = {s.alloc.id for s in res.stop}
    if job is not None and res.place:
        live = (
            a for a in all_allocs
            if a.desired_status == DesiredStatus.RUN and a.id not in stopping and not is_terminal(a, statuses)
        )
        states = build_states(nodes, live)
        stamp = _deployment_stamp(deployment, version)
        out = sink if sink is None or stamp is None else (lambda allocs: sink(stamp(allocs)))
        placed = place(job, version, res.place, nodes, states, eval_id=eval_id, now=now, sink=out)
        d.new_allocs = placed.allocs if stamp is None else stamp(placed.allocs)
        d.failed = placed.failed
        d.queued = placed.queued
    next_of = {a.previous_allocation: a.id for a in d.new_allocs if a.previous_allocation}
    changed: dict[str, Allocation] = {}
    for s in res.stop:
        changed[s.alloc.id] = dataclasses.replace(
            s.alloc, desired_status=DesiredStatus.STOP, desired_description=s.description,
            client_status=s.client_status or s.alloc.client_status,
            next_allocation=next_of.get(s.alloc.id, s.alloc.next_allocation), modify_time=now,
        )
    for a in res.inplace_update:
        changed[a.id] = dataclasses.replace(a, job_version=version, modify_time=now)
    for a in res.reschedule_now:
        if a.id in next_of and a.id not in changed:
            changed[a.id] = dataclasses.replace(a, next_allocation=next_of[a.id], modify_time=now)
    d.updated_allocs = list(changed.values())
    return d
