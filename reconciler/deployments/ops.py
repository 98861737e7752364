"""The user's deployment operations against etcd: read the deployment, apply the pure rule,
write it back only if nobody changed it since (compare the key's mod revision), together
with an evaluation so the scheduler acts on the change at once. A lost race re-reads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from reconciler.deployments.rules import DeploymentError, apply_fail, apply_pause, apply_promote
from reconciler.model.evals import new_eval
from reconciler.model.ids import is_valid_name
from reconciler.model.objects import Deployment, Evaluation, JobRecord
from reconciler.store import Store, Txn

MAX_ATTEMPTS = 20

__all__ = ["DeploymentError", "fail_deployment", "latest_for_job", "pause_deployment", "promote_deployment"]


class DeploymentNotFound(LookupError):
    pass


def list_deployments(store: Store) -> list[Deployment]:
    items, _ = store.list(store.keys.deployments, Deployment)
    return sorted((i.value for i in items), key=lambda d: (d.create_time, d.job_version), reverse=True)


def for_job(store: Store, namespace: str, job_id: str) -> list[Deployment]:
    """The job's deployments, newest first."""
    return [d for d in list_deployments(store) if d.namespace == namespace and d.job_id == job_id]


def latest_for_job(store: Store, namespace: str, job_id: str) -> Deployment | None:
    deps = for_job(store, namespace, job_id)
    return deps[0] if deps else None


def deployment_eval(store: Store, dep: Deployment, *, now: float) -> Evaluation:
    """The evaluation that tells the scheduler a deployment changed (Nomad's deployment
    watcher creates the same)."""
    rec = store.get(store.keys.job(dep.namespace, dep.job_id), JobRecord)
    job = rec.value if rec else None
    return new_eval(dep.namespace, dep.job_id, "deployment-watcher", now=now, record=job,
                    job_version=job.version if job else dep.job_version, deployment_id=dep.id)


def _update(store: Store, dep_id: str, change: Callable[[Deployment, float], Deployment]) -> tuple[Deployment, str]:
    if not is_valid_name(dep_id):
        raise DeploymentNotFound(f"invalid deployment id {dep_id!r}")
    key = store.keys.deployment(dep_id)
    for _ in range(MAX_ATTEMPTS):
        cur = store.get(key, Deployment)
        if cur is None:
            raise DeploymentNotFound(f"deployment not found: {dep_id}")
        now = time.time()
        new = change(cur.value, now)
        ev = deployment_eval(store, new, now=now)
        txn = Txn().compare_mod(key, cur.mod_revision).put(key, new).put(store.keys.eval(ev.id), ev)
        if store.commit(txn):
            return new, ev.id
    raise RuntimeError(f"deployment {dep_id}: too many concurrent updates, try again")


def promote_deployment(store: Store, dep_id: str, groups: Iterable[str] | None = None) -> tuple[Deployment, str]:
    """Promote canaries (all groups, or `groups`); returns the deployment and the eval id."""
    wanted = list(groups) if groups is not None else None
    return _update(store, dep_id, lambda d, now: apply_promote(d, wanted, now=now))


def fail_deployment(store: Store, dep_id: str) -> tuple[Deployment, str]:
    return _update(store, dep_id, lambda d, now: apply_fail(d, now=now))


def pause_deployment(store: Store, dep_id: str, pause: bool) -> tuple[Deployment, str]:
    return _update(store, dep_id, lambda d, now: apply_pause(d, pause, now=now))


def find(store: Store, dep_id: str) -> Deployment | None:
    """A deployment by full id or unique prefix (the CLI shows 8 characters)."""
    if is_valid_name(dep_id):
        got = store.get(store.keys.deployment(dep_id), Deployment)
        if got is not None:
            return got.value
    matches = [d for d in list_deployments(store) if d.id.startswith(dep_id)]
    return matches[0] if len(matches) == 1 else None
