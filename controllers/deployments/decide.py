"""The deployment controller's decision (pure): from what the caches hold about one
deployment, the one guarded transaction that moves it.

`decide(view, now=...)` judges health (`health.judge_all`), steps the status
(`progress.step`) and builds the writes: the deployment, compared on its mod revision; with
it, when it succeeded, its job version (and the job record, if still that version) marked
stable; when the scheduler has something to do, an evaluation; when it failed with
`auto_revert`, the submission of the stable version it reverts to (`submit_ops`: a new job
version, the job record compared on the revision read, an evaluation). Everything lands
together or nothing does, so a crash or a conflict loses nothing: the key is reconciled
again from the caches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from controllers.deployments.health import judge_all
from controllers.deployments.progress import Step, step
from reconciler.deployments.health import health_map
from reconciler.deployments.rules import active, deployment_evaluation
from reconciler.model.ids import AllocId
from reconciler.model.objects import Allocation, AllocStatus, Deployment, DeploymentStatus, JobRecord
from reconciler.model.services import CheckStatus
from reconciler.ops.jobs import Submission, submit_ops
from reconciler.store import Keys, Txn, Versioned


@dataclass(frozen=True)
class View:
    """One deployment and what it depends on, as the caches hold them (with mod revisions
    for the compares)."""

    deployment: Versioned[Deployment]
    job: Versioned[JobRecord] | None  # the job's current record
    versions: list[Versioned[JobRecord]]  # every stored version of the job
    allocs: list[Allocation] = field(default_factory=list)  # placed by this deployment
    statuses: Mapping[AllocId, AllocStatus] = field(default_factory=dict)
    checks: Mapping[str, list[CheckStatus]] = field(default_factory=dict)

    def version(self, v: int) -> Versioned[JobRecord] | None:
        return next((r for r in self.versions if r.value.version == v), None)


@dataclass(frozen=True)
class Plan:
    step: Step
    txn: Txn | None  # None: nothing to write
    revert: Submission | None = None
    requeue_after: float | None = None


def needs_reconcile(dep: Deployment) -> bool:
    """Active deployments move; a failed one may still owe its auto-revert."""
    return active(dep) or dep.status == DeploymentStatus.FAILED


def decide(view: View, keys: Keys, *, now: float) -> Plan:
    dv = view.deployment
    dep = dv.value
    job = view.job.value if view.job else None
    own = view.version(dep.job_version)
    health: dict[str, Any] = {}
    look: float | None = None
    if own is not None and active(dep):
        health, look = judge_all(
            own.value.job, view.allocs, view.statuses, view.checks, health_map(dep), now=now
        )
    history = sorted((r.value for r in view.versions), key=lambda r: r.version, reverse=True)
    s = step(dep, job, view.allocs, health, history, now=now, next_health_look=look)
    requeue = max(0.0, s.look_again_at - now) + 0.01 if s.look_again_at is not None else None
    if not s.changed:
        return Plan(s, None, requeue_after=requeue)
    d = s.deployment
    dkey = keys.deployment(d.id)
    txn = Txn().compare_mod(dkey, dv.mod_revision).put(dkey, d)
    if s.notify_scheduler:
        ev = deployment_evaluation(d, job, now=now)
        txn.put(keys.eval(ev.id), ev)
    if s.mark_stable and own is not None:
        txn.compare_mod(own.key, own.mod_revision).put(own.key, dataclasses.replace(own.value, stable=True))
        if view.job is not None and view.job.value.version == d.job_version:
            txn.compare_mod(view.job.key, view.job.mod_revision)
            txn.put(view.job.key, dataclasses.replace(view.job.value, stable=True))
    revert: Submission | None = None
    target = view.version(s.revert_to) if s.revert_to is not None else None
    if target is not None:
        revert = submit_ops(
            txn, keys, target.value.job, view.job, now=now, source_file=target.value.source_file
        )
    return Plan(s, txn, revert, requeue)
