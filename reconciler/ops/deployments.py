"""The user's deployment operations: read the deployment, apply the pure rule
(`reconciler.deployments.rules`), and write it back only if nobody changed it since
(`Store.update`), together with an evaluation so the scheduler acts on the change at once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler.deployments.rules import (
    DeploymentError,
    apply_alloc_health,
    apply_fail,
    apply_pause,
    apply_promote,
)
from reconciler.model import evals
from reconciler.model.ids import is_valid_name
from reconciler.model.job import HealthCheck
from reconciler.model.objects import Allocation, Deployment, Evaluation, JobRecord
from reconciler.ops.errors import DeploymentNotFound
from reconciler.store import Store, Txn

__all__ = [
    "DeploymentError",
    "DeploymentNotFound",
    "DeploymentUpdate",
    "deployment_eval",
    "fail_deployment",
    "pause_deployment",
    "promote_deployment",
    "set_alloc_health",
]


@dataclass(frozen=True)
class DeploymentUpdate:
    """What an operation wrote: the deployment, its evaluation, the commit's revision."""

    deployment: Deployment
    eval_id: str
    modify_index: int


def deployment_eval(store: Store, dep: Deployment, *, now: float) -> Evaluation:
    """The evaluation that tells the scheduler a deployment changed (Nomad's deployment
    watcher creates the same)."""
    rec = store.get(store.keys.job(dep.namespace, dep.job_id), JobRecord)
    return evals.new_eval(
        dep.namespace,
        dep.job_id,
        "deployment-watcher",
        record=rec.value if rec else None,
        job_version=None if rec else dep.job_version,
        deployment_id=dep.id,
        now=now,
    )


def _update(store: Store, dep_id: str, change: Callable[[Deployment, float], Deployment]) -> DeploymentUpdate:
    """Apply `change` to the deployment and create its evaluation, in one transaction."""
    if not is_valid_name(dep_id):
        raise DeploymentNotFound(f"invalid deployment id {dep_id!r}")
    eval_ids: list[str] = []

    def fn(cur: Deployment | None) -> Deployment:
        if cur is None:
            raise DeploymentNotFound(f"deployment not found: {dep_id}")
        return change(cur, time.time())

    def also(new: Deployment) -> Txn:
        ev = deployment_eval(store, new, now=new.modify_time or time.time())
        eval_ids.append(ev.id)
        return Txn().put(store.keys.eval(ev.id), ev)

    got = store.update(store.keys.deployment(dep_id), Deployment, fn, also=also)
    assert got is not None  # fn raises for an absent deployment
    return DeploymentUpdate(got.value, eval_ids[-1], got.mod_revision)


def promote_deployment(store: Store, dep_id: str, groups: Iterable[str] | None = None) -> DeploymentUpdate:
    """Promote canaries (all groups, or `groups`)."""
    wanted = list(groups) if groups is not None else None
    return _update(store, dep_id, lambda d, now: apply_promote(d, wanted, now=now))


def fail_deployment(store: Store, dep_id: str) -> DeploymentUpdate:
    """Mark the deployment failed (a job with auto-revert then goes back to its last stable version)."""
    return _update(store, dep_id, lambda d, now: apply_fail(d, now=now))


def pause_deployment(store: Store, dep_id: str, pause: bool) -> DeploymentUpdate:
    """Pause (`pause=True`) or resume the deployment's rollout."""
    return _update(store, dep_id, lambda d, now: apply_pause(d, pause, now=now))


def _manual_groups(store: Store, dep: Deployment) -> frozenset[str]:
    """The groups of the deployment's job version whose update says `health_check = "manual"`."""
    got = store.get(store.keys.job_version(dep.namespace, dep.job_id, dep.job_version), JobRecord)
    if got is None:
        return frozenset()
    job = got.value.job
    return frozenset(
        g.name
        for g in job.task_groups
        if (u := job.update_for(g)) is not None and u.health_check == HealthCheck.MANUAL
    )


def set_alloc_health(
    store: Store, dep_id: str, healthy: Iterable[str], unhealthy: Iterable[str]
) -> DeploymentUpdate:
    """The user's health verdicts on a deployment's allocations (groups in manual health
    mode only); the deployment controller counts them and carries the rollout on (or fails
    it), and the evaluation lets the scheduler place the next batch at once."""
    if not is_valid_name(dep_id):
        raise DeploymentNotFound(f"invalid deployment id {dep_id!r}")
    cur = store.get(store.keys.deployment(dep_id), Deployment)
    if cur is None:
        raise DeploymentNotFound(f"deployment not found: {dep_id}")
    manual = _manual_groups(store, cur.value)
    items, _ = store.list(store.keys.allocs, Allocation)
    group_of: dict[str, str] = {
        i.value.id: i.value.task_group for i in items if i.value.deployment_id == dep_id
    }
    good, bad = list(healthy), list(unhealthy)
    return _update(store, dep_id, lambda d, now: apply_alloc_health(d, group_of, manual, good, bad, now=now))
