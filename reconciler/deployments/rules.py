"""The user's deployment operations as pure functions: each takes a deployment and returns
the changed copy, or raises DeploymentError with the reason it is not allowed (the API turns
that into a 400). No I/O: `ops` reads, calls these, and writes in a guarded transaction."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping

from reconciler.deployments.descriptions import Desc
from reconciler.deployments.health import health_map, store_health
from reconciler.model.evals import new_eval
from reconciler.model.job import SECOND
from reconciler.model.objects import (
    AllocHealth,
    Deployment,
    DeploymentGroupState,
    DeploymentStatus,
    Evaluation,
    JobRecord,
)

ACTIVE = frozenset({DeploymentStatus.RUNNING, DeploymentStatus.PAUSED, DeploymentStatus.BLOCKED})


class DeploymentError(ValueError):
    """An operation the deployment's state does not allow."""


def active(dep: Deployment) -> bool:
    """Still deploying: its allocations are counted and judged (every other status is final)."""
    return dep.status in ACTIVE


def deployment_evaluation(dep: Deployment, job: JobRecord | None, *, now: float) -> Evaluation:
    """The evaluation that tells the scheduler a deployment changed (Nomad's deployment
    watcher creates the same); `job` is the job's current record, if it still has one."""
    return new_eval(
        dep.namespace,
        dep.job_id,
        "deployment-watcher",
        now=now,
        record=job,
        job_version=job.version if job else dep.job_version,
        deployment_id=dep.id,
    )


def awaiting_promotion(g: DeploymentGroupState) -> bool:
    return g.desired_canaries > 0 and not g.promoted


def healthy_canaries(dep: Deployment, g: DeploymentGroupState) -> int:
    healthy = set(dep.healthy_alloc_ids)
    return sum(1 for a in g.placed_canaries if a in healthy)


def running_description(dep: Deployment) -> str:
    """What a running deployment says: waiting for a manual or an automatic promotion, or
    just running."""
    waiting = [g for g in dep.task_groups.values() if awaiting_promotion(g)]
    if not waiting:
        return Desc.RUNNING
    if all(g.auto_promote for g in waiting):
        return Desc.AUTO_PROMOTION
    return Desc.NEEDS_PROMOTION


def apply_promote(dep: Deployment, groups: Iterable[str] | None, *, now: float) -> Deployment:
    """Promote the canaries of `groups` (None: every group with canaries). Every placed canary
    of a promoted group must be healthy, as in Nomad."""
    if not active(dep):
        raise DeploymentError(f"can't promote terminal deployment (status {dep.status})")
    wanted = sorted(dep.task_groups) if groups is None else list(groups)
    unknown = [n for n in wanted if n not in dep.task_groups]
    if unknown:
        raise DeploymentError(f"deployment has no task group {unknown[0]!r}")
    canary_groups = [n for n in wanted if dep.task_groups[n].desired_canaries > 0]
    if not canary_groups:
        raise DeploymentError("no canaries to promote")
    out = copy.deepcopy(dep)
    for name in canary_groups:
        g = out.task_groups[name]
        if g.promoted:
            continue
        if len(g.placed_canaries) < g.desired_canaries or healthy_canaries(out, g) < g.desired_canaries:
            raise DeploymentError(
                f"task group {name!r} has {healthy_canaries(out, g)}/{g.desired_canaries} healthy canaries; "
                "promote once every canary is healthy"
            )
        g.promoted = True
        if g.progress_deadline:
            g.require_progress_by = now + g.progress_deadline / SECOND
    if out.status == DeploymentStatus.RUNNING:
        out.status_description = running_description(out)
    out.modify_time = now
    return out


def apply_fail(dep: Deployment, *, now: float) -> Deployment:
    if not active(dep):
        raise DeploymentError(f"can't fail terminal deployment (status {dep.status})")
    out = copy.deepcopy(dep)
    out.status = DeploymentStatus.FAILED
    out.status_description = Desc.FAILED_BY_USER
    out.modify_time = now
    return out


def apply_pause(dep: Deployment, pause: bool, *, now: float) -> Deployment:
    if not active(dep):
        raise DeploymentError(
            f"can't {'pause' if pause else 'resume'} terminal deployment (status {dep.status})"
        )
    out = copy.deepcopy(dep)
    if pause:
        out.status, out.status_description = DeploymentStatus.PAUSED, Desc.PAUSED
    else:
        out.status = DeploymentStatus.RUNNING
        out.status_description = running_description(out)
    out.modify_time = now
    return out


def _check_health_request(
    dep: Deployment, group_of: Mapping[str, str], manual: frozenset[str], good: list[str], bad: list[str]
) -> None:
    if not active(dep):
        raise DeploymentError(
            f"can't set health of allocations for a terminal deployment (status {dep.status})"
        )
    if not good and not bad:
        raise DeploymentError("must specify at least one healthy or unhealthy allocation ID")
    both = set(good) & set(bad)
    if both:
        raise DeploymentError(f"allocation {min(both)} can not be both healthy and unhealthy")
    for a in (*good, *bad):
        if a not in group_of:
            raise DeploymentError(f"allocation {a} is not part of deployment {dep.id}")
        if group_of[a] not in manual:
            raise DeploymentError(
                f"task group {group_of[a]!r} does not use manual health checks "
                '(update { health_check = "manual" })'
            )


def apply_alloc_health(
    dep: Deployment,
    group_of: Mapping[str, str],
    manual: frozenset[str],
    healthy: Iterable[str],
    unhealthy: Iterable[str],
    *,
    now: float,
) -> Deployment:
    """Record the user's verdicts on allocations of the deployment (Nomad's
    `Deployment.SetAllocHealth`). `group_of` maps each allocation of the deployment to its
    task group; only groups in `manual` (`update { health_check = "manual" }`) take
    verdicts from the user, whose judgement the controller then counts as its own. A verdict
    is final: giving an allocation the other one is refused."""
    good, bad = sorted(set(healthy)), sorted(set(unhealthy))
    _check_health_request(dep, group_of, manual, good, bad)
    out = copy.deepcopy(dep)
    health = health_map(out)
    for ids, verdict in ((good, True), (bad, False)):
        for a in ids:
            prev = health.get(a)
            if prev is not None and prev.healthy is not None and prev.healthy != verdict:
                was = "healthy" if prev.healthy else "unhealthy"
                raise DeploymentError(f"allocation {a} is already {was}: a verdict is final")
            health[a] = AllocHealth(healthy=verdict, timestamp=now)
    store_health(out, health)
    out.modify_time = now
    return out
