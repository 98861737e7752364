"""The garbage collector: deletes finished evaluations, stopped allocations, old job
versions, ended deployments, dead jobs and long-down nodes (the rules are pure, in
`gc.py`), so no prefix grows forever.

One key, "gc", reconciled every `every` seconds from the caches; the key "force", when an
operator asks for a collection (`PUT /v1/system/gc` writes `gc_requests/force`), runs with every
threshold at 0 and deletes the request. Each deletion is compared on the deleted key's mod
revision (an object changed since it was read is kept); an allocation goes with its status
key, a job with its versions. Deletions are committed in batches of at most MAX_TXN_OPS; a
batch that lost a race is retried one deletion at a time, and if any lost, `Conflict` is
raised once the rest is done, so the key is retried with backoff. It runs under its own
leader election (`gc`), apart from liveness: one responsibility each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controllers.liveness import gc
from reconciler.model.alloc_status import is_terminal
from reconciler.model.gc_policy import FORCED, GcThresholds
from reconciler.model.ids import AllocId
from reconciler.model.objects import Allocation, AllocStatus, Deployment, Evaluation, JobRecord, Node
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import MAX_TXN_OPS, Conflict, Store, Txn, Versioned

GC = "gc"
FORCE = "force"
Statuses = dict[AllocId, AllocStatus]


@dataclass
class Deletion:
    """One object to delete, guarded by its mod revision, with keys that go with it."""

    key: str
    mod_revision: int
    also: list[str] = field(default_factory=list)

    def ops(self) -> int:
        return 2 + len(self.also)


class GarbageCollector(Controller):
    name = "gc"

    def __init__(
        self,
        store: Store,
        *,
        every: float = 300.0,
        after: float | None = None,
        thresholds: GcThresholds | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(store)
        self.every = every
        base = thresholds or GcThresholds()
        # `after` sets the evaluations' and allocations' threshold alone (tests, benchmarks)
        self.thresholds = base if after is None else GcThresholds(after, base.deployment, base.job, base.node)
        self.clock = clock
        self.evals = self.informer(self.keys.evals, Evaluation)
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.statuses = self.informer(self.keys.alloc_statuses, AllocStatus)
        self.nodes = self.informer(self.keys.nodes, Node)
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.versions = self.informer(self.keys.job_versions_all, JobRecord)
        self.deployments = self.informer(self.keys.deployments, Deployment)
        self.requests = self.informer(self.keys.gc_requests, dict)
        self.requests.add_handler(lambda k, old, new: self.enqueue(FORCE) if new is not None else None)

    def on_start(self) -> None:
        if self.every > 0:
            self.queue.add_after(GC, self.every)

    def reconcile(self, key: str) -> Requeue | None:
        if key == FORCE:
            request = self.store.get(self.keys.gc_request, dict)
            if request is not None:
                self.collect(FORCED)
                self.store.commit(Txn().compare_mod(request.key, request.mod_revision).delete(request.key))
            return None
        self.collect()
        return Requeue(self.every) if self.every > 0 else None

    def dead_jobs(self, limits: GcThresholds, now: float, statuses: Statuses) -> list[Deletion]:
        """The dead jobs that may go (`gc.jobs_to_collect`), each with its versions."""
        jobs = {(v.value.namespace, v.value.id): v for v in self.jobs.items()}
        dead = gc.jobs_to_collect(
            (v.value for v in jobs.values()),
            self.allocs.list(),
            statuses,
            self.evals.list(),
            now=now,
            after=limits.job,
        )
        versions_of: dict[gc.JobKey, list[str]] = {}
        for v in self.versions.items():
            versions_of.setdefault((v.value.namespace, v.value.id), []).append(v.key)
        out = []
        for r in dead:
            item = jobs[(r.namespace, r.id)]
            # versions past what fits one transaction go in a later pass (the job is gone then)
            versions = versions_of.get((r.namespace, r.id), [])[: MAX_TXN_OPS - 2]
            out.append(Deletion(item.key, item.mod_revision, versions))
        return out

    def decide(
        self, limits: GcThresholds, now: float, statuses: Statuses, *, gone: set[str]
    ) -> dict[str, list[Deletion]]:
        """What else may go now, by kind, from the caches (`gc.py`'s rules); `gone` are the
        job keys deleted in this pass: their evaluations, allocations and deployments go too."""
        out: dict[str, list[Deletion]] = {}
        alive = {(v.value.namespace, v.value.id) for v in self.jobs.items() if v.key not in gone}
        allocs = self.allocs.list()
        out["versions"] = _deletions(
            self.versions.items(),
            gc.versions_to_collect(
                self.versions.list(),
                keep=limits.versions,
                jobs=alive,
                current=self.jobs.list(),
                allocs=[a for a in allocs if not is_terminal(a, statuses)],
            ),
            key_of=lambda r: self.keys.job_version(r.namespace, r.id, r.version),
        )
        out["evals"] = _deletions(
            self.evals.items(),
            gc.evals_to_collect(self.evals.list(), now=now, after=limits.eval, jobs=alive),
            key_of=lambda e: self.keys.eval(e.id),
        )
        out["allocs"] = _deletions(
            self.allocs.items(),
            gc.allocs_to_collect(
                allocs, statuses, {n.id: n for n in self.nodes.list()}, now=now, after=limits.eval, jobs=alive
            ),
            key_of=lambda a: self.keys.alloc(a.id),
            also=lambda a: [self.keys.alloc_status(a.id)],
        )
        out["deployments"] = _deletions(
            self.deployments.items(),
            gc.deployments_to_collect(self.deployments.list(), now=now, after=limits.deployment, jobs=alive),
            key_of=lambda d: self.keys.deployment(d.id),
        )
        out["nodes"] = _deletions(
            self.nodes.items(),
            gc.nodes_to_collect(self.nodes.list(), allocs, statuses, now=now, after=limits.node),
            key_of=lambda n: self.keys.node(n.id),
        )
        return out

    def collect(self, limits: GcThresholds | None = None) -> dict[str, int]:
        """Delete what may go, dead jobs first (then what was theirs); the number deleted of
        each kind."""
        limits = limits or self.thresholds
        now = self.clock()
        statuses = {st.alloc_id: st for st in self.statuses.list()}
        jobs = self.dead_jobs(limits, now, statuses)
        done = {"jobs": 0}
        gone: set[str] = set()
        lost = 0
        for d in jobs:
            if self.store.commit(_txn([d])):
                done["jobs"] += 1
                gone.add(d.key)
            else:
                lost += 1
        for kind, deletions in self.decide(limits, now, statuses, gone=gone).items():
            done[kind], failed = self._apply(deletions)
            lost += failed
        if any(done.values()):
            self.log.info("gc %s", " ".join(f"{k}={n}" for k, n in done.items()))
        if lost:
            raise Conflict(f"gc: {lost} deletions lost a race; collecting again")
        return done

    def _apply(self, deletions: list[Deletion]) -> tuple[int, int]:
        """Commit `deletions` in batches; (deleted, lost a race)."""
        ok = lost = 0
        batch: list[Deletion] = []
        for d in [*deletions, None]:
            if d is not None and sum(x.ops() for x in batch) + d.ops() <= MAX_TXN_OPS:
                batch.append(d)
                continue
            if batch and self.store.commit(_txn(batch)):
                ok += len(batch)
            else:
                for one in batch:  # find the ones that lost; the rest go
                    if self.store.commit(_txn([one])):
                        ok += 1
                    else:
                        lost += 1
            batch = [d] if d is not None else []
        return ok, lost


def _txn(batch: list[Deletion]) -> Txn:
    txn = Txn()
    for d in batch:
        txn.compare_mod(d.key, d.mod_revision).delete(d.key)
        for k in d.also:
            txn.delete(k)
    return txn


def _deletions(
    items: list[Versioned[Any]],
    chosen: list[Any],
    *,
    key_of: Callable[[Any], str],
    also: Callable[[Any], list[str]] = lambda _: [],
) -> list[Deletion]:
    """Deletions of the `chosen` values, guarded by the revisions the cache holds."""
    revs = {v.key: v.mod_revision for v in items}
    out = []
    for value in chosen:
        k = key_of(value)
        if k in revs:
            out.append(Deletion(k, revs[k], also(value)))
    return out


def GarbageCollectorService(
    store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any
) -> LeaderElected:
    """Garbage collection under leader election; `controller_kw` go to GarbageCollector."""
    return LeaderElected(store, "gc", identity, lambda s: GarbageCollector(s, **controller_kw), ttl=ttl)
