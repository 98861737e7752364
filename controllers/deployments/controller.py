"""The deployment controller: one work-queue key per deployment id.

Handlers enqueue the deployments an event concerns: a deployment change, an allocation of a
deployment (placed, stopped), its client status, its checks (`checks/<alloc>/<check>`), or
its job's record (stopped, a newer version). `reconcile(id)` reads the caches, judges health
(`health.judge_all`), steps the status (`progress.step`), and writes the deployment with a
compare on its mod revision; in the same transaction it marks the job version stable
(successful) and adds an evaluation when the scheduler has something to do (more healthy
allocations, canaries promoted). A failed deployment with auto_revert submits the last
stable version again after its write. Requeues itself for the next time-driven change
(min_healthy_time elapsed, healthy or progress deadline).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from controllers.deployments.health import judge_all
from controllers.deployments.progress import Step, step
from reconciler.deployments.health import health_map
from reconciler.model.objects import Allocation, AllocStatus, Deployment, DeploymentStatus, JobRecord
from reconciler.model.services import CheckStatus
from reconciler.ops.deployments import deployment_eval
from reconciler.ops.jobs import job_history, submit_job
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import Store, Txn

ACTIVE = (DeploymentStatus.RUNNING, DeploymentStatus.PAUSED, DeploymentStatus.BLOCKED)


def _job_key(namespace: str, job_id: str) -> str:
    return f"{namespace}/{job_id}"


class DeploymentController(Controller):
    name = "deployments"

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store)
        self.clock = clock
        self.deployments = self.informer(self.keys.deployments, Deployment)
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.statuses = self.informer(self.keys.alloc_statuses, AllocStatus)
        self.checks = self.informer(self.keys.checks, CheckStatus)
        self.deployments.add_index("job", lambda d: [_job_key(d.namespace, d.job_id)])
        self.allocs.add_index("deployment", lambda a: [a.deployment_id] if a.deployment_id else [])
        self.checks.add_index("alloc", self._check_alloc)
        self.deployments.add_handler(self._on_deployment)
        self.jobs.add_handler(self._on_job)
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
            if d.status in ACTIVE or d.status == DeploymentStatus.FAILED:
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
        parts = key[len(self.keys.checks):].split("/")
        self._alloc_changed(parts[0] if parts else "")

    def on_start(self) -> None:
        for d in self.deployments.list():
            if d.status in ACTIVE or d.status == DeploymentStatus.FAILED:
                self.enqueue(d.id)

    # the loop -----------------------------------------------------------------------------
    def _checks_by_alloc(self, allocs: list[Allocation]) -> dict[str, list[CheckStatus]]:
        return {a.id: found for a in allocs if (found := self.checks.by_index("alloc", a.id))}

    def reconcile(self, key: str) -> Requeue | None:
        dkey = self.keys.deployment(key)
        dv = self.deployments.get_versioned(dkey)
        if dv is None:
            return None
        dep = dv.value
        if dep.status not in ACTIVE and dep.status != DeploymentStatus.FAILED:
            return None
        now = self.clock()
        jv = self.jobs.get_versioned(self.keys.job(dep.namespace, dep.job_id))
        job = jv.value if jv else None
        allocs = self.allocs.by_index("deployment", dep.id)
        version_rec = self.store.get(self.keys.job_version(dep.namespace, dep.job_id, dep.job_version), JobRecord)
        health: dict[str, Any] = {}
        look: float | None = None
        if version_rec is not None and dep.status in ACTIVE:
            statuses = {a.id: st for a in allocs if (st := self.statuses.get(self.keys.alloc_status(a.id))) is not None}
            health, look = judge_all(
                version_rec.value.job, allocs, statuses, self._checks_by_alloc(allocs), health_map(dep), now=now,
            )
        needs_history = dep.status == DeploymentStatus.FAILED or any(g.auto_revert for g in dep.task_groups.values())
        history = job_history(self.store, dep.namespace, dep.job_id) if needs_history else []
        s = step(dep, job, allocs, health, history, now=now, next_health_look=look)
        if s.changed and not self._write(dkey, dv.mod_revision, s, version_rec):
            return Requeue(0.0)  # someone else wrote (a promotion): look again
        if s.changed:
            self.log.info(
                "deployment=%s job=%s/%s status=%s description=%r", dep.id, dep.namespace, dep.job_id,
                s.deployment.status, s.deployment.status_description,
            )
        if s.changed and s.revert_to is not None:
            self._revert(s.deployment, s.revert_to, history)
        if s.look_again_at is not None:
            return Requeue(max(0.0, s.look_again_at - now) + 0.01)
        return None

    def _write(self, dkey: str, rev: int, s: Step, version_rec: Any) -> bool:
        txn = Txn().compare_mod(dkey, rev).put(dkey, s.deployment)
        if s.notify_scheduler:
            ev = deployment_eval(self.store, s.deployment, now=self.clock())
            txn.put(self.keys.eval(ev.id), ev)
        if s.mark_stable and version_rec is not None:
            d = s.deployment
            vkey = self.keys.job_version(d.namespace, d.job_id, d.job_version)
            txn.compare_mod(vkey, version_rec.mod_revision).put(vkey, dataclasses.replace(version_rec.value, stable=True))
            jkey = self.keys.job(d.namespace, d.job_id)
            cur = self.store.get(jkey, JobRecord)
            if cur is not None and cur.value.version == d.job_version:
                txn.compare_mod(jkey, cur.mod_revision).put(jkey, dataclasses.replace(cur.value, stable=True))
        return self.store.commit(txn)

    def _revert(self, dep: Deployment, version: int, history: list[JobRecord]) -> None:
        target = next((r for r in history if r.version == version), None)
        if target is None:
            return
        res = submit_job(self.store, target.job, source_file=target.source_file)
        self.log.info(
            "deployment=%s job=%s/%s reverted to version=%d as version=%d eval=%s", dep.id, dep.namespace,
            dep.job_id, version, res.version, res.eval_id,
        )


def DeploymentService(store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any) -> LeaderElected:
    """The deployment controller under leader election; `controller_kw` go to DeploymentController."""
    return LeaderElected(store, "deployments", identity, lambda: DeploymentController(store, **controller_kw), ttl=ttl)

