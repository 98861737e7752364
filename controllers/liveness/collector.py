"""The garbage collector: deletes finished evaluations, stopped allocations and old job
versions (the rules are pure, in `gc.py`), so those prefixes do not grow forever.

One key, "gc", reconciled every `every` seconds from the caches of evaluations,
allocations, their statuses and nodes. Each deletion is compared on the deleted key's mod
revision (an evaluation or allocation changed since it was read is kept); an allocation
goes with its status key. Evaluations are deleted in batches of at most MAX_TXN_OPS; a
batch or allocation that lost a race raises `Conflict` once the rest is done, so the key
is retried with backoff. It runs under its own leader election (`gc`), apart from
liveness: one responsibility each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from controllers.liveness.gc import allocs_to_collect, evals_to_collect, versions_to_collect
from reconciler.model.objects import Allocation, AllocStatus, Evaluation, JobRecord, Node
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import MAX_TXN_OPS, Conflict, Store, Txn

GC = "gc"


class GarbageCollector(Controller):
    name = "gc"

    def __init__(
        self,
        store: Store,
        *,
        every: float = 300.0,
        after: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(store)
        self.every = every
        self.after = after
        self.clock = clock
        self.evals = self.informer(self.keys.evals, Evaluation)
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.statuses = self.informer(self.keys.alloc_statuses, AllocStatus)
        self.nodes = self.informer(self.keys.nodes, Node)
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.versions = self.informer(self.keys.job_versions_all, JobRecord)

    def on_start(self) -> None:
        if self.every > 0:
            self.queue.add_after(GC, self.every)

    def reconcile(self, key: str) -> Requeue | None:
        self.collect()
        return Requeue(self.every) if self.every > 0 else None

    def collect(self) -> tuple[int, int]:
        """Delete what `gc.py` says may go; (evaluations, allocations) deleted."""
        now = self.clock()
        evals = {v.value.id: v for v in self.evals.items()}
        gone_evals = evals_to_collect((v.value for v in evals.values()), now=now, after=self.after)
        lost = 0
        n_evals = 0
        for i in range(0, len(gone_evals), MAX_TXN_OPS // 2):
            txn = Txn()
            batch = gone_evals[i : i + MAX_TXN_OPS // 2]
            for e in batch:
                k = self.keys.eval(e.id)
                txn.compare_mod(k, evals[e.id].mod_revision).delete(k)
            if self.store.commit(txn):
                n_evals += len(batch)
            else:
                lost += 1
        by_id = {s.alloc_id: s for s in self.statuses.list()}
        revs = {v.value.id: v.mod_revision for v in self.allocs.items()}
        nodes = {n.id: n for n in self.nodes.list()}
        n_allocs = 0
        for a in allocs_to_collect(self.allocs.list(), by_id, nodes, now=now, after=self.after):
            txn = Txn().compare_mod(self.keys.alloc(a.id), revs.get(a.id, 0))
            txn.delete(self.keys.alloc(a.id)).delete(self.keys.alloc_status(a.id))
            if self.store.commit(txn):
                n_allocs += 1
            else:
                lost += 1
        n_versions, lost_versions = self._collect_versions()
        lost += lost_versions
        if n_evals or n_allocs or n_versions:
            self.log.info("gc evals=%d allocs=%d versions=%d", n_evals, n_allocs, n_versions)
        if lost:
            raise Conflict(f"gc: {lost} deletions lost a race; collecting again")
        return n_evals, n_allocs

    def _collect_versions(self) -> tuple[int, int]:
        """Delete old job versions, in batches each compared on the deleted keys; (deleted,
        batches that lost a race)."""
        revs = {
            self.keys.job_version(v.value.namespace, v.value.id, v.value.version): v.mod_revision
            for v in self.versions.items()
        }
        gone = versions_to_collect(self.versions.list(), self.jobs.list(), self.allocs.list())
        done = lost = 0
        for i in range(0, len(gone), MAX_TXN_OPS // 2):
            txn = Txn()
            batch = gone[i : i + MAX_TXN_OPS // 2]
            for r in batch:
                k = self.keys.job_version(r.namespace, r.id, r.version)
                txn.compare_mod(k, revs.get(k, 0)).delete(k)
            if self.store.commit(txn):
                done += len(batch)
            else:
                lost += 1
        return done, lost


def GarbageCollectorService(
    store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any
) -> LeaderElected:
    """Garbage collection under leader election; `controller_kw` go to GarbageCollector."""
    return LeaderElected(store, "gc", identity, lambda s: GarbageCollector(s, **controller_kw), ttl=ttl)
