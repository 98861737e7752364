"""Reconcile one job: a pure function from (job, allocations, statuses, nodes, now) to buckets.

No I/O and no clock: the caller reads state, calls `reconcile`, and turns the result into a
plan (placement on nodes happens later, in `placer`). The buckets, as Nomad names them:

- place: instances to create (missing indexes, replacements of lost/failed/migrating/updated
  allocations). Each carries its name `job.group[index]` and the allocation it replaces.
- stop: allocations to stop (job stopped, group removed, scale-down highest index first,
  lost allocations, the old side of a destructive update or reschedule).
- inplace_update: allocations of an older version whose group changed only in fields that do
  not need a restart (count, service tags, meta, update stanza): their job version is bumped.
- destructive_update: allocations of an older version replaced by a new one (stop + place),
  at most `max_replace[group]` at once (the deployment gate when a deployment is given;
  otherwise `update.max_parallel` minus replacements not running yet).
- lost: allocations on a node that is down or gone (stopped with client status "lost",
  replaced elsewhere for service/batch jobs).
- reschedule_now / reschedule_later: failed allocations eligible under the `reschedule`
  policy, now or at a later time (a follow-up evaluation is created for those).
- ignore: allocations left as they are.
- canaries (with a deployment, see deployment_gate): placed beside the old version as
  `place` entries with `canary=True`; the deployment's canaries awaiting promotion are
  ignored, and once promoted each stops the old allocation holding its index.

An allocation moves through: terminal? -> ignored (its index is free again); else lost /
migrating (node tainted) -> failed (reschedule policy) -> old version (update) -> untainted.
Sets are never changed in place; each step builds new lists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from controllers.scheduler.allocs import alloc_name, client_status_of, is_terminal, node_lost
from controllers.scheduler.deployment_gate import deployment_view
from controllers.scheduler.migrate import migrate_group
from controllers.scheduler.reschedule import next_reschedule_time
from controllers.scheduler.update_policy import UpdateFn, default_max_replace, tasks_updated
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import Job, JobType, TaskGroup, one_per_node
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    Deployment,
    DesiredStatus,
    Node,
)
from reconciler.model.plan import DesiredUpdates
from reconciler.model.services import CheckStatus


class AllocPlace(NamedTuple):
    """An instance to place (immutable; a named tuple because a big scale-up makes
    thousands and a frozen data class is several times slower to build)."""

    task_group: str
    name: str
    index: int  # type: ignore[assignment]  # shadows tuple.index on purpose: Nomad names it so
    previous: Allocation | None = None  # the allocation this one replaces
    reason: str = "new"  # new | lost | reschedule | migrate | destructive
    node_id: NodeId = NodeId("")  # system jobs: the one node this must go to
    canary: bool = False


@dataclass(frozen=True)
class AllocStop:
    alloc: Allocation
    description: str
    client_status: ClientStatus | None = None  # LOST for allocations on a down node


@dataclass(frozen=True)
class DelayedReschedule:
    alloc: Allocation
    at: float


@dataclass(frozen=True)
class ReconcileResult:
    """The buckets (module docstring). Frozen: the lists are filled while reconciling and
    read-only once `reconcile` returns."""

    place: list[AllocPlace] = field(default_factory=list)
    stop: list[AllocStop] = field(default_factory=list)
    inplace_update: list[Allocation] = field(default_factory=list)
    destructive_update: list[AllocPlace] = field(default_factory=list)  # also listed in place
    lost: list[Allocation] = field(default_factory=list)
    reschedule_now: list[Allocation] = field(default_factory=list)
    reschedule_later: list[DelayedReschedule] = field(default_factory=list)
    ignore: list[Allocation] = field(default_factory=list)
    desired_tg_updates: dict[str, DesiredUpdates] = field(default_factory=dict)
    look_again: list[float] = field(default_factory=list)  # when a migration may progress

    def changes(self) -> bool:
        return bool(self.place or self.stop or self.inplace_update)

    def followup_at(self) -> float | None:
        return min((d.at for d in self.reschedule_later), default=None)

    def look_again_at(self) -> float | None:
        """When to decide again though nothing changed (a replacement's min_healthy_time)."""
        return min(self.look_again, default=None)


@dataclass(frozen=True)
class _JobInput:
    """What every group of one job is reconciled against."""

    job: Job
    version: int
    versions: Mapping[int, Job]
    statuses: Mapping[AllocId, AllocStatus]
    nodes: Mapping[NodeId, Node]
    now: float
    update_fn: UpdateFn
    checks: Mapping[AllocId, Sequence[CheckStatus]]


def reconcile(
    job: Job | None,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    *,
    nodes: Mapping[NodeId, Node],
    job_version: int = 0,
    versions: Mapping[int, Job] | None = None,
    deployment: Deployment | None = None,
    now: float,
    max_replace: Mapping[str, int] | None = None,
    update_fn: UpdateFn = tasks_updated,
    checks: Mapping[AllocId, Sequence[CheckStatus]] | None = None,
) -> ReconcileResult:
    """Decide what should happen to `job`'s allocations. `job` None means stopped or purged.

    `job_version` is the version of `job`; `versions` the older job versions allocations may
    run (for the in-place/destructive decision); `nodes` every known node (an alloc whose
    node is missing or down is lost; a draining node's allocs migrate, see `migrate`);
    `checks` the check statuses of the job's allocations (a migration waits for them).
    """
    res = ReconcileResult()
    if job is None:
        for a in allocs:
            upd = res.desired_tg_updates.setdefault(a.task_group, DesiredUpdates())
            if a.desired_status == DesiredStatus.RUN:
                res.stop.append(AllocStop(a, "alloc not needed since job was stopped"))
                upd.stop += 1
            else:
                res.ignore.append(a)
                upd.ignore += 1
        return res

    view = None
    if deployment is not None and job.type == JobType.SERVICE and deployment.job_version == job_version:
        # canaries and the rollout gate come from the deployment (see deployment_gate)
        view = deployment_view(job, job_version, allocs, statuses, deployment)
        allocs = view.allocs
        res.ignore.extend(view.held)
        for a in view.displaced:
            res.stop.append(AllocStop(a, "alloc is being updated due to job update"))
            res.desired_tg_updates.setdefault(a.task_group, DesiredUpdates()).stop += 1
        for a in view.stale_canaries:
            res.stop.append(AllocStop(a, "alloc not needed as it is a canary of an older deployment"))
            res.desired_tg_updates.setdefault(a.task_group, DesiredUpdates()).stop += 1
    by_group: dict[str, list[Allocation]] = {}
    for a in allocs:
        by_group.setdefault(a.task_group, []).append(a)
    # groups removed from the job
    names = {g.name for g in job.task_groups}
    for gname, galloc in by_group.items():
        if gname in names:
            continue
        upd = res.desired_tg_updates.setdefault(gname, DesiredUpdates())
        for a in galloc:
            if a.desired_status == DesiredStatus.RUN:
                res.stop.append(AllocStop(a, "alloc not needed as task group was removed"))
                upd.stop += 1
            else:
                res.ignore.append(a)
                upd.ignore += 1

    if max_replace is not None:
        gates = dict(max_replace)
    elif view is not None:
        gates = view.gates
    else:
        gates = default_max_replace(job, job_version, allocs, statuses)
    inp = _JobInput(job, job_version, versions or {}, statuses, nodes, now, update_fn, checks or {})
    for g in job.task_groups:
        upd = res.desired_tg_updates.setdefault(g.name, DesiredUpdates())
        galloc = by_group.get(g.name, [])
        if one_per_node(job.type):  # system and sysbatch
            _reconcile_system(inp, g, galloc, res=res, upd=upd)
        else:
            _reconcile_group(inp, g, galloc, gate=gates.get(g.name, 1 << 30), res=res, upd=upd)
    if view is not None:
        for gname, indexes in view.canaries.items():
            for idx in indexes:
                res.place.append(
                    AllocPlace(gname, alloc_name(job.id, gname, idx), idx, None, "canary", canary=True)
                )
                res.desired_tg_updates.setdefault(gname, DesiredUpdates()).canary += 1
    return res


def _reconcile_group(
    inp: _JobInput,
    g: TaskGroup,
    allocs: list[Allocation],
    *,
    gate: int,
    res: ReconcileResult,
    upd: DesiredUpdates,
) -> None:
    """A service or batch group: `gate` replacements at most; buckets go into `res`/`upd`."""
    job, version, versions, statuses, nodes, now, update_fn = (
        inp.job,
        inp.version,
        inp.versions,
        inp.statuses,
        inp.nodes,
        inp.now,
        inp.update_fn,
    )
    batch = job.type == JobType.BATCH
    policy = job.reschedule_for(g)
    # live: occupies its index and counts toward `count`; `settled` live ones are not updated
    live: list[Allocation] = []
    settled: set[str] = set()
    lost: list[Allocation] = []
    migrate: list[Allocation] = []
    resched_now: list[Allocation] = []
    later: dict[str, DelayedReschedule] = {}
    replaced_by: dict[str, Allocation] = {}
    for a in allocs:
        if a.previous_allocation:
            replaced_by[a.previous_allocation] = a
    for a in allocs:
        if a.desired_status != DesiredStatus.RUN:
            res.ignore.append(a)
            continue
        cs = client_status_of(a, statuses)
        node = nodes.get(a.node_id)
        if cs == ClientStatus.LOST:
            res.ignore.append(a)
            continue
        if cs == ClientStatus.COMPLETE:
            if batch:  # ran to completion: keeps its index, never replaced
                live.append(a)
                settled.add(a.id)
            else:  # service: terminal, its index is free again
                res.ignore.append(a)
            continue
        if a.next_allocation and cs == ClientStatus.FAILED:
            res.ignore.append(a)  # already replaced (rescheduled): terminal
            continue
        if node_lost(node):
            lost.append(a)
            continue
        if cs == ClientStatus.FAILED:
            at = next_reschedule_time(policy, a, statuses.get(a.id), now)
            if at is not None and at <= now:
                resched_now.append(a)
                continue
            if at is not None:
                later[a.id] = DelayedReschedule(a, at)
            live.append(a)  # not eligible (or not yet): stays failed and keeps its index
            settled.add(a.id)
            continue
        if node is not None and node.drain:
            migrate.append(a)
            continue
        live.append(a)

    # a migrating allocation and its replacement share one slot until the old one stops
    migrating = {a.id for a in migrate}
    standing_in = [a for a in live if a.previous_allocation in migrating]
    if standing_in:
        stand_ids = {a.id for a in standing_in}
        live = [a for a in live if a.id not in stand_ids]
        res.ignore.extend(standing_in)

    # scale down: everything that would occupy an index; what needs replacing anyway goes
    # first, then the highest index
    lost_ids = {a.id for a in lost}
    occupying = live + lost + migrate + resched_now
    excess = len(occupying) - g.count
    dropped: set[str] = set()
    if excess > 0:
        healthy = {a.id for a in live if a.id not in settled}
        order = sorted(occupying, key=lambda a: (a.id in healthy, -a.index))
        for a in order[:excess]:
            dropped.add(a.id)
            if a.id in lost_ids:
                res.lost.append(a)
                res.stop.append(AllocStop(a, "alloc is lost since its node is down", ClientStatus.LOST))
            else:
                res.stop.append(AllocStop(a, "alloc not needed due to job update"))
            upd.stop += 1
    res.reschedule_later.extend(d for aid, d in later.items() if aid not in dropped)

    used: set[int] = set()
    for a in lost:
        if a.id in dropped:
            continue
        res.lost.append(a)
        res.stop.append(AllocStop(a, "alloc is lost since its node is down", ClientStatus.LOST))
        upd.stop += 1
        res.place.append(AllocPlace(g.name, a.name, a.index, a, "lost"))
        upd.place += 1
        used.add(a.index)
    for a in resched_now:
        if a.id in dropped:
            continue
        res.reschedule_now.append(a)
        res.place.append(AllocPlace(g.name, a.name, a.index, a, "reschedule"))
        upd.place += 1
        used.add(a.index)
    moving = [a for a in migrate if a.id not in dropped]
    used.update(a.index for a in moving)
    step = migrate_group(g, moving, replaced_by, statuses, inp.checks, now=now)
    for a in step.place:
        res.place.append(AllocPlace(g.name, a.name, a.index, a, "migrate"))
        upd.migrate += 1
    for a in step.stop:
        res.stop.append(AllocStop(a, "alloc is being migrated"))
        upd.stop += 1
    res.ignore.extend(step.wait)
    if step.look_again_at is not None:
        res.look_again.append(step.look_again_at)

    # updates of live allocations running an older version
    for a in sorted(live, key=lambda x: x.index):
        if a.id in dropped:
            continue
        used.add(a.index)
        if a.job_version == version or a.id in settled:
            res.ignore.append(a)
            continue
        if update_fn(versions.get(a.job_version), job, g.name):
            if gate > 0:
                gate -= 1
                p = AllocPlace(g.name, a.name, a.index, a, "destructive")
                res.place.append(p)
                res.destructive_update.append(p)
                res.stop.append(AllocStop(a, "alloc is being updated due to job update"))
                upd.destructive_update += 1
            else:
                res.ignore.append(a)
        else:
            res.inplace_update.append(a)
            upd.in_place_update += 1

    # scale up: lowest free indexes
    missing = g.count - (len(occupying) - len(dropped))
    idx = 0
    while missing > 0:
        if idx not in used:
            res.place.append(AllocPlace(g.name, alloc_name(job.id, g.name, idx), idx))
            upd.place += 1
            used.add(idx)
            missing -= 1
        idx += 1
    upd.ignore = sum(1 for a in res.ignore if a.task_group == g.name)


def _reconcile_system(
    inp: _JobInput,
    g: TaskGroup,
    allocs: list[Allocation],
    *,
    res: ReconcileResult,
    upd: DesiredUpdates,
) -> None:
    """One allocation per eligible node; placement checks the node's feasibility."""
    job, version, versions, statuses, nodes, update_fn = (
        inp.job,
        inp.version,
        inp.versions,
        inp.statuses,
        inp.nodes,
        inp.update_fn,
    )
    on_node: dict[str, Allocation] = {}
    for a in allocs:
        if a.desired_status != DesiredStatus.RUN or client_status_of(a, statuses) == ClientStatus.LOST:
            res.ignore.append(a)
            upd.ignore += 1
            continue
        node = nodes.get(a.node_id)
        if node_lost(node):
            res.lost.append(a)
            res.stop.append(AllocStop(a, "alloc is lost since its node is down", ClientStatus.LOST))
            upd.stop += 1
            continue
        assert node is not None
        if node.drain:
            res.stop.append(AllocStop(a, "alloc is not needed as node is draining"))
            upd.migrate += 1
            continue
        if a.node_id in on_node:  # a duplicate on one node: keep the first
            res.stop.append(AllocStop(a, "alloc not needed: more than one on this node"))
            upd.stop += 1
            continue
        on_node[a.node_id] = a
        if is_terminal(a, statuses) or a.job_version == version:
            res.ignore.append(a)
            upd.ignore += 1
        elif update_fn(versions.get(a.job_version), job, g.name):
            p = AllocPlace(g.name, a.name, a.index, a, "destructive", node_id=a.node_id)
            res.place.append(p)
            res.destructive_update.append(p)
            res.stop.append(AllocStop(a, "alloc is being updated due to job update"))
            upd.destructive_update += 1
        else:
            res.inplace_update.append(a)
            upd.in_place_update += 1
    for nid in sorted(nodes):
        node = nodes[nid]
        if nid in on_node or not node.schedulable():
            continue
        res.place.append(AllocPlace(g.name, alloc_name(job.id, g.name, 0), 0, node_id=nid))
        upd.place += 1
