"""The deployment's say in one reconciliation (pure): which canaries to place, which old
allocations a promoted canary displaces, and how many old allocations may be replaced now.

Per task group of a service job whose deployment is for the version being reconciled:

- canaries not promoted yet (`desired_canaries > 0`, `promoted` false): the deployment's
  canaries are held aside (ignored, they occupy no index of `count`), up to
  `desired_canaries` new ones are placed beside the old allocations, taking the index of an
  old allocation they will stand in for, and nothing old is replaced (gate 0);
- promoted (or no canaries): a live canary displaces the old-version allocation that holds
  its index (stopped), and the remaining old allocations roll: the gate is `max_parallel`
  minus the allocations placed by this deployment that are not healthy yet;
- a deployment that is not running (paused, failed, successful, cancelled) places no
  canaries; paused and failed replace nothing.

Groups without an update stanza (or max_parallel 0) are not gated.

A canary of an older deployment that was never promoted (another live allocation still holds
its index: a promoted canary would have displaced it) is stopped: its deployment was
superseded, and the new one places its own canaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controllers.scheduler.allocs import is_terminal
from reconciler.model.ids import AllocId
from reconciler.model.job import Job, TaskGroup
from reconciler.model.objects import Allocation, AllocStatus, Deployment, DeploymentStatus, DesiredStatus

UNLIMITED = 1 << 30


@dataclass
class DeploymentView:
    allocs: list[Allocation]  # what the per-group reconciliation sees
    held: list[Allocation] = field(default_factory=list)  # canaries awaiting promotion
    displaced: list[Allocation] = field(default_factory=list)  # old allocs a promoted canary replaces
    gates: dict[str, int] = field(default_factory=dict)  # group -> old allocs replaceable now
    canaries: dict[str, list[int]] = field(default_factory=dict)  # group -> indexes of canaries to place
    stale_canaries: list[Allocation] = field(default_factory=list)  # unpromoted canaries of older deployments


def _is_canary_of(a: Allocation, dep: Deployment) -> bool:
    return a.canary and a.deployment_id == dep.id and a.job_version == dep.job_version


def not_yet_healthy(
    dep: Deployment, allocs: list[Allocation], statuses: Mapping[AllocId, AllocStatus]
) -> int:
    """Live allocations this deployment placed whose health is not decided healthy."""
    healthy = set(dep.healthy_alloc_ids)
    return sum(
        1
        for a in allocs
        if a.deployment_id == dep.id and a.id not in healthy and not is_terminal(a, statuses)
    )


def _canary_indexes(
    allocs: list[Allocation], canaries: list[Allocation], want: int, version: int, count: int
) -> list[int]:
    """Indexes for `want` new canaries: those of old allocations not yet shadowed by a canary,
    lowest first (then indexes past the old ones if there are fewer old than canaries)."""
    taken = {c.index for c in canaries}
    olds = sorted({a.index for a in allocs if a.job_version != version and a.index not in taken})
    out = olds[:want]
    idx = 0
    while len(out) < want:
        if idx not in taken and idx not in out:
            out.append(idx)
        idx += 1
    return out


def stale_canaries(
    allocs: list[Allocation], statuses: Mapping[AllocId, AllocStatus], dep: Deployment
) -> list[Allocation]:
    """Live canaries of other deployments that were never promoted (they still share their
    index with a live non-canary allocation)."""
    live = [a for a in allocs if not is_terminal(a, statuses)]
    held = {a.index for a in live if not a.canary}
    return [a for a in live if a.canary and a.deployment_id != dep.id and a.index in held]


def _group_view(
    job: Job,
    g: TaskGroup,
    version: int,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    dep: Deployment,
    view: DeploymentView,
) -> list[Allocation]:
    stale = stale_canaries(allocs, statuses, dep)
    if stale:
        view.stale_canaries.extend(stale)
        gone = {a.id for a in stale}
        allocs = [a for a in allocs if a.id not in gone]
    upd = job.update_for(g)
    gs = dep.task_groups.get(g.name)
    if upd is None or upd.max_parallel <= 0 or gs is None:
        view.gates[g.name] = UNLIMITED
        return allocs
    running = dep.status == DeploymentStatus.RUNNING
    canaries = [a for a in allocs if _is_canary_of(a, dep)]
    if gs.desired_canaries > 0 and not gs.promoted:
        ids = {a.id for a in canaries}
        view.held.extend(canaries)
        rest = [a for a in allocs if a.id not in ids]
        view.gates[g.name] = 0
        want = gs.desired_canaries - len(canaries)
        if running and want > 0:
            live = [a for a in rest if not is_terminal(a, statuses)]
            view.canaries[g.name] = _canary_indexes(live, canaries, want, version, g.count)
        return rest
    live_canary_idx = {a.index for a in canaries if not is_terminal(a, statuses)}
    displaced = [
        a
        for a in allocs
        if a.index in live_canary_idx
        and a.job_version != version
        and a.desired_status == DesiredStatus.RUN
        and not a.canary
    ]
    view.displaced.extend(displaced)
    gone = {a.id for a in displaced}
    rest = [a for a in allocs if a.id not in gone]
    if dep.status == DeploymentStatus.SUCCESSFUL:
        view.gates[g.name] = upd.max_parallel
    elif not running:
        view.gates[g.name] = 0
    else:
        view.gates[g.name] = max(0, upd.max_parallel - not_yet_healthy(dep, rest, statuses))
    return rest


def deployment_view(
    job: Job,
    version: int,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    dep: Deployment,
) -> DeploymentView:
    """What `dep` (a deployment of `job` at `version`) allows in this reconciliation."""
    by_group: dict[str, list[Allocation]] = {}
    for a in allocs:
        by_group.setdefault(a.task_group, []).append(a)
    view = DeploymentView(allocs=[])
    names = set()
    for g in job.task_groups:
        names.add(g.name)
        view.allocs.extend(_group_view(job, g, version, by_group.get(g.name, []), statuses, dep, view))
    view.allocs.extend(a for a in allocs if a.task_group not in names)
    return view
