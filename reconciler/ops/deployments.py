"""The user's deployment operations: read the deployment, apply the pure rule
(`reconciler.deployments.rules`), and write it back only if nobody changed it since
(`Store.update`), together with an evaluation so the scheduler acts on the change at once.
Also the reads the API and the CLI share (by job, by id or unique prefix)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from reconciler.deployments.rules import DeploymentError, apply_fail, apply_pause, apply_promote
from reconciler.model.ids import is_valid_name
from reconciler.model.objects import Deployment, Evaluation, JobRecord
from reconciler.ops import evals
from reconciler.ops.errors import DeploymentNotFound
from reconciler.store import Store, Txn

__all__ = [
    "DeploymentError",
    "DeploymentNotFound",
    "deployment_eval",
    "fail_deployment",
    "find",
    "for_job",
    "latest_for_job",
    "list_deployments",
    "pause_deployment",
    "promote_deployment",
]


def list_deployments(store: Store) -> list[Deployment]:
    """Every deployment, newest first."""
    items, _ = store.list(store.keys.deployments, Deployment)
    return sorted((i.value for i in items), key=lambda d: (d.create_time, d.job_version), reverse=True)


def for_job(store: Store, namespace: str, job_id: str) -> list[Deployment]:
    """The job's deployments, newest first."""
    return [d for d in list_deployments(store) if d.namespace == namespace and d.job_id == job_id]


def latest_for_job(store: Store, namespace: str, job_id: str) -> Deployment | None:
    deps = for_job(store, namespace, job_id)
    return deps[0] if deps else None


def find(store: Store, dep_id: str) -> Deployment | None:
    """A deployment by full id or unique prefix (the CLI shows 8 characters)."""
    if is_valid_name(dep_id):
        got = store.get(store.keys.deployment(dep_id), Deployment)
        if got is not None:
            return got.value
    matches = [d for d in list_deployments(store) if d.id.startswith(dep_id)]
    return matches[0] if len(matches) == 1 else None


def deployment_eval(store: Store, dep: Deployment, *, now: float) -> Evaluation:
    """The evaluation that tells the scheduler a deployment changed (Nomad's deployment
    watcher creates the same)."""
    rec = store.get(store.keys.job(dep.namespace, dep.job_id), JobRecord)
    return evals.new_eval(
        dep.namespace, dep.job_id, "deployment-watcher", record=rec.value if rec else None,
        job_version=None if rec else dep.job_version, deployment_id=dep.id, now=now,
    )


def _update(store: Store, dep_id: str, change: Callable[[Deployment, float], Deployment]) -> tuple[Deployment, str]:
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
    return got.value, eval_ids[-1]


def promote_deployment(store: Store, dep_id: str, groups: Iterable[str] | None = None) -> tuple[Deployment, str]:
    """Promote canaries (all groups, or `groups`); returns the deployment and the eval id."""
    wanted = list(groups) if groups is not None else None
    return _update(store, dep_id, lambda d, now: apply_promote(d, wanted, now=now))


def fail_deployment(store: Store, dep_id: str) -> tuple[Deployment, str]:
    """Mark the deployment failed (a job with auto-revert then goes back to its last stable version)."""
    return _update(store, dep_id, lambda d, now: apply_fail(d, now=now))


def pause_deployment(store: Store, dep_id: str, pause: bool) -> tuple[Deployment, str]:
    """Pause (`pause=True`) or resume the deployment's rollout."""
    return _update(store, dep_id, lambda d, now: apply_pause(d, pause, now=now))
