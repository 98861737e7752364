"""One step of a deployment (pure): count its allocations per group, apply the health
verdicts, and move its status as Nomad's deployment watcher does.

    running -> successful   every group promoted (if it has canaries) and healthy >= desired
    running -> failed       an allocation unhealthy, or a group past its progress deadline
    running -> cancelled    the job was stopped, or a newer version of it was submitted
    running -> running      auto-promotion once every canary is healthy (if all such groups
                            have auto_promote); descriptions say what it waits for
    paused                  counts are kept up to date, nothing else moves

A failed deployment with `auto_revert` whose job still runs its version asks for the newest
stable version older than its own (`revert_to`) and sets `auto_revert_decided`; the caller
writes both in one transaction, so the revert is asked for once and never lost. The
description says the outcome in Nomad's words. Successful asks for its job version to be
marked stable.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.deployments import Desc, running_description
from reconciler.deployments.health import health_map, store_health
from reconciler.deployments.rules import active, awaiting_promotion, healthy_canaries
from reconciler.model.job import SECOND
from reconciler.model.objects import Allocation, AllocHealth, Deployment, DeploymentStatus, JobRecord


@dataclass(frozen=True)
class Step:
    deployment: Deployment
    changed: bool
    notify_scheduler: bool  # something the scheduler acts on: more healthy, promoted
    mark_stable: bool
    revert_to: int | None  # job version to submit again
    look_again_at: float | None


def _count(dep: Deployment, allocs: list[Allocation]) -> None:
    for gs in dep.task_groups.values():
        gs.placed_allocs = gs.healthy_allocs = gs.unhealthy_allocs = 0
        gs.placed_canaries = []
    healthy, unhealthy = set(dep.healthy_alloc_ids), set(dep.unhealthy_alloc_ids)
    for a in sorted(allocs, key=lambda x: (x.create_time, x.id)):
        g = dep.task_groups.get(a.task_group)
        if g is None:
            continue
        g.placed_allocs += 1
        if a.canary:
            g.placed_canaries.append(a.id)
        if a.id in healthy:
            g.healthy_allocs += 1
        elif a.id in unhealthy:
            g.unhealthy_allocs += 1


def _revert_target(dep: Deployment, history: list[JobRecord]) -> int | None:
    stable = [r.version for r in history if r.stable and r.version < dep.job_version and not r.stop]
    return max(stable) if stable else None


def _fail(dep: Deployment, base: str, job: JobRecord | None, history: list[JobRecord]) -> int | None:
    dep.status = DeploymentStatus.FAILED
    dep.status_description = base
    return _maybe_revert(dep, job, history)


def _maybe_revert(dep: Deployment, job: JobRecord | None, history: list[JobRecord]) -> int | None:
    if dep.auto_revert_decided or not any(g.auto_revert for g in dep.task_groups.values()):
        return None
    if job is None or job.stop or job.version != dep.job_version:
        return None  # the job moved on (stopped, or a newer version): nothing to revert
    dep.auto_revert_decided = True
    target = _revert_target(dep, history)
    base = dep.status_description
    dep.status_description = Desc.no_rollback(base) if target is None else Desc.rollback(base, target)
    return target


def step(
    dep: Deployment,
    job: JobRecord | None,
    allocs: list[Allocation],
    health: Mapping[str, AllocHealth],
    history: list[JobRecord],
    *,
    now: float,
    next_health_look: float | None = None,
) -> Step:
    """`allocs`: those placed by this deployment; `health`: the verdicts judged now;
    `history`: the job's versions (for auto-revert)."""
    out = copy.deepcopy(dep)
    before_healthy = {n: g.healthy_allocs for n, g in dep.task_groups.items()}
    store_health(out, {**health_map(dep), **health})
    _count(out, allocs)
    notify = False
    for n, g in out.task_groups.items():
        if g.healthy_allocs > before_healthy.get(n, 0):
            notify = True
            if g.progress_deadline:
                g.require_progress_by = now + g.progress_deadline / SECOND
    revert: int | None = None
    mark_stable = False
    look: float | None = next_health_look
    if out.status == DeploymentStatus.FAILED:
        revert = _maybe_revert(out, job, history)
    elif active(out):
        if job is None or job.stop:
            out.status, out.status_description = DeploymentStatus.CANCELLED, Desc.STOPPED_JOB
        elif job.version != out.job_version:
            out.status, out.status_description = DeploymentStatus.CANCELLED, Desc.NEWER_JOB
        elif out.status == DeploymentStatus.RUNNING:
            revert, mark_stable, promoted, look = _running(out, job, history, now, look)
            notify = notify or promoted
    changed = out != dep
    if changed:
        out.modify_time = now
    return Step(out, changed, notify and out.status == DeploymentStatus.RUNNING, mark_stable, revert, look)


def _running(
    dep: Deployment, job: JobRecord, history: list[JobRecord], now: float, look: float | None
) -> tuple[int | None, bool, bool, float | None]:
    groups = dep.task_groups.values()
    if any(g.unhealthy_allocs > 0 for g in groups):
        return _fail(dep, Desc.FAILED_ALLOCATIONS, job, history), False, False, None
    promoted = False
    waiting = [g for g in groups if awaiting_promotion(g)]
    ready = [
        g
        for g in waiting
        if len(g.placed_canaries) >= g.desired_canaries and healthy_canaries(dep, g) >= g.desired_canaries
    ]
    if waiting and len(ready) == len(waiting) and all(g.auto_promote for g in waiting):
        for g in waiting:
            g.promoted = True
            if g.progress_deadline:
                g.require_progress_by = now + g.progress_deadline / SECOND
        promoted = True
    for g in groups:
        done = (g.desired_canaries == 0 or g.promoted) and g.healthy_allocs >= g.desired_total
        # a group whose healthy canaries wait for a person is not making (or failing) progress
        held = awaiting_promotion(g) and any(g is r for r in ready)
        if done or held or not g.require_progress_by:
            continue
        if now >= g.require_progress_by:
            return _fail(dep, Desc.PROGRESS_DEADLINE, job, history), False, False, None
        look = g.require_progress_by if look is None else min(look, g.require_progress_by)
    if all((g.desired_canaries == 0 or g.promoted) and g.healthy_allocs >= g.desired_total for g in groups):
        dep.status, dep.status_description = DeploymentStatus.SUCCESSFUL, Desc.SUCCESSFUL
        return None, True, promoted, None
    dep.status_description = running_description(dep)
    return None, False, promoted, look
