"""Whether a job version needs a deployment, and the deployment to create (pure).

The scheduler creates the deployment in the same guarded transaction as the first
allocations it places for a job version (as Nomad's scheduler does), so the allocations carry
its id and the evaluation names it; the deployment controller owns it from then on.

A service job version needs one when a group has an update stanza (max_parallel > 0) and
either nothing of the job runs yet (first registration) or some live allocation of an older
version needs a destructive update. Canaries are only asked for on an update.
"""

from __future__ import annotations

from collections.abc import Mapping

from controllers.scheduler.allocs import is_terminal
from controllers.scheduler.update_policy import UpdateFn, tasks_updated
from reconciler.deployments import running_description
from reconciler.model.ids import AllocId, DeploymentId
from reconciler.model.job import SECOND, Job, JobType
from reconciler.model.objects import Allocation, AllocStatus, Deployment, DeploymentGroupState


def _updating_groups(
    job: Job,
    version: int,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    versions: Mapping[int, Job],
    update_fn: UpdateFn,
) -> tuple[set[str], bool]:
    """(groups with old allocations needing a destructive update, whether anything is live)."""
    updating: set[str] = set()
    any_live = False
    for a in allocs:
        if is_terminal(a, statuses):
            continue
        any_live = True
        if a.job_version != version and update_fn(versions.get(a.job_version), job, a.task_group):
            updating.add(a.task_group)
    return updating, any_live


def new_deployment(
    job: Job | None,
    version: int,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    *,
    dep_id: DeploymentId,
    now: float,
    versions: Mapping[int, Job] | None = None,
    update_fn: UpdateFn = tasks_updated,
) -> Deployment | None:
    """The deployment `job` at `version` needs, or None if it needs none."""
    if job is None or job.type != JobType.SERVICE:
        return None
    updating, any_live = _updating_groups(job, version, allocs, statuses, versions or {}, update_fn)
    if any_live and not updating:
        return None
    groups: dict[str, DeploymentGroupState] = {}
    for g in job.task_groups:
        upd = job.update_for(g)
        if upd is None or upd.max_parallel <= 0:
            continue
        if any_live and g.name not in updating:
            continue
        groups[g.name] = DeploymentGroupState(
            auto_revert=upd.auto_revert,
            auto_promote=upd.auto_promote,
            desired_canaries=upd.canary if g.name in updating else 0,
            desired_total=g.count,
            progress_deadline=upd.progress_deadline,
            require_progress_by=now + upd.progress_deadline / SECOND if upd.progress_deadline else 0.0,
        )
    if not groups:
        return None
    dep = Deployment(
        id=dep_id,
        namespace=job.namespace,
        job_id=job.id,
        job_version=version,
        task_groups=groups,
        create_time=now,
        modify_time=now,
    )
    dep.status_description = running_description(dep)
    return dep
