"""The periodic launcher controller: one work-queue key per periodic job (`<ns>/<id>`).

Handlers enqueue a periodic job when its record or its launch record changes. `reconcile`
reads only the informer caches (the job, its launch record, and whether a child still
runs, from the children's allocations and evaluations), calls the pure `decide.decide` and
commits its one transaction; a compare that fails (the job or the launch record changed
since the caches showed them) raises `Conflict` and the key is retried with backoff, so a
launch is made at most once. It requeues itself for the next launch time. Leader-elected
(`leader/periodic`), like every cluster controller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from controllers.periodic.decide import decide, launches
from reconciler.model.ids import AllocId
from reconciler.model.objects import Allocation, AllocStatus, ChildLaunch, Evaluation, JobRecord, JobStatus
from reconciler.model.summary import summarize
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import Conflict, Store

CATCH_UP = 0.5  # seconds a reconcile waits for the caches to show its own last launch


def _key(namespace: str, job_id: str) -> str:
    return f"{namespace}/{job_id}"


class PeriodicController(Controller):
    name = "periodic"

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store)
        self.clock = clock
        self._written = 0  # the revision of this controller's last launch
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.jobs.add_index(
            "parent", lambda r: [_key(r.namespace, r.job.parent_id)] if r.job.parent_id else []
        )
        self.launches = self.informer(self.keys.child_launches, ChildLaunch)
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.allocs.add_index("job", lambda a: [_key(a.namespace, a.job_id)])
        self.statuses = self.informer(self.keys.alloc_statuses, AllocStatus)
        self.evals = self.informer(self.keys.evals, Evaluation)
        self.evals.add_index("job", lambda e: [_key(e.namespace, e.job_id)])
        self.jobs.add_handler(self._on_job)
        self.launches.add_handler(self._on_launch)

    def _on_job(self, key: str, old: JobRecord | None, new: JobRecord | None) -> None:
        rec = new or old
        if rec is not None and (launches(old) or launches(new)):
            self.enqueue(_key(rec.namespace, rec.id))

    def _on_launch(self, key: str, old: ChildLaunch | None, new: ChildLaunch | None) -> None:
        launch = new or old
        if launch is not None:
            self.enqueue(_key(launch.namespace, launch.job_id))

    def on_start(self) -> None:
        for rec in self.jobs.list():
            if launches(rec):
                self.enqueue(_key(rec.namespace, rec.id))

    def _child_active(self, key: str) -> bool:
        """Whether a child of the job is still pending or running (for `prohibit_overlap`)."""
        for child in self.jobs.by_index("parent", key):
            ckey = _key(child.namespace, child.id)
            allocs = self.allocs.by_index("job", ckey)
            statuses: dict[AllocId, AllocStatus] = {}
            for a in allocs:
                st = self.statuses.get(self.keys.alloc_status(a.id))
                if st is not None:
                    statuses[a.id] = st
            summary = summarize(
                child.job, allocs, statuses, self.evals.by_index("job", ckey), stopped=child.stop
            )
            if summary.status != JobStatus.DEAD:
                return True
        return False

    def reconcile(self, key: str) -> Requeue | None:
        ns, _, job_id = key.partition("/")
        # the launch record and the child of our own last launch, before deciding again
        for inf in (self.launches, self.jobs):
            if not inf.wait_revision(self._written, CATCH_UP):
                raise Conflict(f"job={key} cache {inf.name} has not reached revision {self._written}")
        parent = self.jobs.get_versioned(self.keys.job(ns, job_id))
        last = self.launches.get_versioned(self.keys.child_launch(ns, job_id))
        now = self.clock()
        plan = decide(self.keys, parent, last, child_active=self._child_active(key), now=now)
        if plan.txn is not None:
            revision = self.store.commit_revision(plan.txn)
            if revision is None:
                raise Conflict(f"job={key} or its launch record changed since it was read")
            self._written = revision
            if plan.child is None:
                self.log.info(
                    "job=%s launch=%d skipped: a child still runs (prohibit_overlap)", key, plan.launch
                )
            else:
                self.log.info(
                    "job=%s launch=%d child=%s eval=%s",
                    key,
                    plan.launch,
                    plan.child.record.id,
                    plan.child.evaluation.id,
                )
        if plan.wake_at is None:
            return None
        return Requeue(max(plan.wake_at - self.clock(), 0.05))


def PeriodicService(store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any) -> LeaderElected:
    """The periodic launcher under leader election; `controller_kw` go to PeriodicController."""
    return LeaderElected(
        store, "periodic", identity, lambda: PeriodicController(store, **controller_kw), ttl=ttl
    )
