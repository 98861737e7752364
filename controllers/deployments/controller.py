"""The deployment controller: one work-queue key per deployment id.

Handlers enqueue the deployments an event concerns: a deployment change, an allocation of a
deployment (placed, stopped), its client status, its checks (`checks/<alloc>/<check>`), or
its job's record or versions (stopped, a newer version, a revert). `reconcile(id)` reads
only the informer caches into a `decide.View`, calls the pure `decide`, and commits the one
transaction it returns (`decide.py` says what it holds, auto-revert included). A conflict
(someone wrote first, or a cache was behind) raises `Conflict` and the key is retried with
per-key backoff. Requeues itself for the next time-driven change (min_healthy_time elapsed,
healthy or progress deadline).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from controllers.deployments.decide import Plan, View, decide, needs_reconcile
from reconciler.model.objects import Allocation, AllocStatus, Deployment, JobRecord
from reconciler.model.services import CheckStatus
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import Conflict, Store


def _job_key(namespace: str, job_id: str) -> str:
    return f"{namespace}/{job_id}"


class DeploymentController(Controller):
    name = "deployments"

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store)
        self.clock = clock
        self.deployments = self.informer(self.keys.deployments, Deployment)
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.versions = self.informer(self.keys.job_versions_all, JobRecord)
        self.versions.add_index("job", lambda r: [_job_key(r.namespace, r.id)])
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.statuses = self.informer(self.keys.alloc_statuses, AllocStatus)
        self.checks = self.informer(self.keys.checks, CheckStatus)
        self.deployments.add_index("job", lambda d: [_job_key(d.namespace, d.job_id)])
        self.allocs.add_index("deployment", lambda a: [a.deployment_id] if a.deployment_id else [])
        self.checks.add_index("alloc", self._check_alloc)
        self.deployments.add_handler(self._on_deployment)
        self.jobs.add_handler(self._on_job)
        self.versions.add_handler(self._on_job)
        self.allocs.add_handler(self._on_alloc)
        self.statuses.add_handler(self._on_status)
        self.checks.add_handler(self._on_check)

    def _check_alloc(self, c: CheckStatus) -> list[str]:
        return [c.alloc_id] if c.alloc_id else []

    # handlers: enqueue only ---------------------------------------------------------------
    def _on_deployment(self, key: str, old: Deployment | None, new: Deployment | None) -> None:
        if new is not None:
            self.enqueue(new.id)

    def _on_job(self, key: str, old: JobRecord | None, new: JobRecord | None) -> None:
        rec = new or old
        if rec is None:
            return
        for d in self.deployments.by_index("job", _job_key(rec.namespace, rec.id)):
            if needs_reconcile(d):
                self.enqueue(d.id)

    def _on_alloc(self, key: str, old: Allocation | None, new: Allocation | None) -> None:
        a = new or old
        if a is not None and a.deployment_id:
            self.enqueue(a.deployment_id)

    def _alloc_changed(self, alloc_id: str) -> None:
        if not alloc_id:
            return
        a = self.allocs.get(self.keys.alloc(alloc_id))
        if a is not None and a.deployment_id:
            self.enqueue(a.deployment_id)

    def _on_status(self, key: str, old: AllocStatus | None, new: AllocStatus | None) -> None:
        st = new or old
        if st is not None:
            self._alloc_changed(st.alloc_id)

    def _on_check(self, key: str, old: CheckStatus | None, new: CheckStatus | None) -> None:
        # the key is checks/<alloc>/<check>: the alloc id is the second-to-last segment
        parts = key[len(self.keys.checks) :].split("/")
        self._alloc_changed(parts[0] if parts else "")

    def on_start(self) -> None:
        for d in self.deployments.list():
            if needs_reconcile(d):
                self.enqueue(d.id)

    # the loop -----------------------------------------------------------------------------
    def _checks_by_alloc(self, allocs: list[Allocation]) -> dict[str, list[CheckStatus]]:
        return {a.id: found for a in allocs if (found := self.checks.by_index("alloc", a.id))}

    def view(self, key: str) -> View | None:
        """What `decide` needs about deployment `key`, from the caches only; None: nothing
        to do (gone, or final)."""
        dv = self.deployments.get_versioned(self.keys.deployment(key))
        if dv is None or not needs_reconcile(dv.value):
            return None
        dep = dv.value
        allocs = self.allocs.by_index("deployment", dep.id)
        statuses = {
            a.id: st for a in allocs if (st := self.statuses.get(self.keys.alloc_status(a.id))) is not None
        }
        versions = [
            v
            for k in self.versions.keys_by_index("job", _job_key(dep.namespace, dep.job_id))
            if (v := self.versions.get_versioned(k)) is not None
        ]
        return View(
            deployment=dv,
            job=self.jobs.get_versioned(self.keys.job(dep.namespace, dep.job_id)),
            versions=versions,
            allocs=allocs,
            statuses=statuses,
            checks=self._checks_by_alloc(allocs),
        )

    def reconcile(self, key: str) -> Requeue | None:
        view = self.view(key)
        if view is None:
            return None
        plan = decide(view, self.keys, now=self.clock())
        self.apply(plan)
        return Requeue(plan.requeue_after) if plan.requeue_after is not None else None

    def apply(self, plan: Plan) -> None:
        """Commit the plan's one transaction; `Conflict` if a compared key changed."""
        if plan.txn is None:
            return
        if not self.store.commit(plan.txn):
            raise Conflict(f"deployment {plan.step.deployment.id} or its job changed since it was read")
        d = plan.step.deployment
        self.log.info(
            "deployment=%s job=%s/%s status=%s description=%r",
            d.id,
            d.namespace,
            d.job_id,
            d.status,
            d.status_description,
        )
        if plan.revert is not None:
            self.log.info(
                "deployment=%s job=%s/%s reverted to version=%s as version=%d eval=%s",
                d.id,
                d.namespace,
                d.job_id,
                plan.step.revert_to,
                plan.revert.record.version,
                plan.revert.evaluation.id,
            )


def DeploymentService(store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any) -> LeaderElected:
    """The deployment controller under leader election; `controller_kw` go to DeploymentController."""
    return LeaderElected(
        store, "deployments", identity, lambda s: DeploymentController(s, **controller_kw), ttl=ttl
    )
