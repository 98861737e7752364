"""The scheduler controller: one job per work-queue key (`<namespace>/<job>`).

Watch handlers only enqueue job keys: a pending evaluation, a job record change, a change of
one of the job's allocations or their client status, and, for jobs whose last evaluation is
blocked (something could not be placed), any new capacity: a node that joins or changes, or
an allocation that stops. `reconcile(key)` reads the caches, runs `decide` (pure), commits the
allocations through `writer.commit_plan` (guarded batches) and completes the job's pending
evaluations: `complete`, or `blocked` with the placement failure metrics. A failed allocation
whose reschedule delay has not passed gets a follow-up evaluation with `wait_until`.

Run it under leader election with `SchedulerService(store, identity).start()`.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from controllers.scheduler.decide import Decision, decide
from controllers.scheduler.deployment_create import new_deployment
from controllers.scheduler.writer import Guard, PipelinedWriter, guard_key, read_guard
from reconciler.model.evals import new_eval
from reconciler.model.ids import DeploymentId, EvalId, NodeId, new_id
from reconciler.model.job import Job, JobType
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    Deployment,
    DeploymentStatus,
    DesiredStatus,
    EvalStatus,
    Evaluation,
    JobRecord,
    Node,
)
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import Store

MAX_PLACED_IDS = 1000  # an evaluation lists at most this many placed allocation ids
_CAPACITY_FIELDS = ("status", "eligibility", "drain", "resources", "reserved", "drivers", "attributes", "meta", "datacenter")


def job_key(namespace: str, job_id: str) -> str:
    return f"{namespace}/{job_id}"


class SchedulerController(Controller):
    name = "scheduler"

    def __init__(
        self, store: Store, *, clock: Callable[[], float] = time.time, cache_wait: float = 5.0,
        deployments: bool = False,
    ) -> None:
        super().__init__(store)
        self.clock = clock
        self.cache_wait = cache_wait
        # with a deployment controller running: create deployments, let them gate updates
        self.use_deployments = deployments
        self.deployments = self.informer(self.keys.deployments, Deployment) if deployments else None
        if self.deployments is not None:
            self.deployments.add_index("job_version", lambda d: [f"{d.namespace}/{d.job_id}/{d.job_version}"])
        self._created: dict[str, Deployment] = {}  # ours, until the cache shows them
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.evals = self.informer(self.keys.evals, Evaluation)
        self.nodes = self.informer(self.keys.nodes, Node)
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.statuses = self.informer(self.keys.alloc_statuses, AllocStatus)
        self.evals.add_index("job", lambda e: [job_key(e.namespace, e.job_id)])
        self.allocs.add_index("job", lambda a: [job_key(a.namespace, a.job_id)])
        self.allocs.add_index("node", lambda a: [a.node_id])
        # job record changes come with an evaluation (as in Nomad): evaluations drive them
        self.evals.add_handler(self._on_eval)
        self.nodes.add_handler(self._on_node)
        self.allocs.add_handler(self._on_alloc)
        self.statuses.add_handler(self._on_status)
        self._blocked: set[str] = set()
        self._blocked_lock = threading.Lock()
        self._versions: dict[tuple[str, str, int], Job] = {}
        self.stats: dict[str, int] = {"plans": 0, "placed": 0, "conflicts": 0}

    # handlers: enqueue only ---------------------------------------------------------------
    def _on_eval(self, key: str, old: Evaluation | None, new: Evaluation | None) -> None:
        if new is None:
            return
        jk = job_key(new.namespace, new.job_id)
        if new.status == EvalStatus.PENDING:
            if new.wait_until > self.clock():
                self.queue.add_after(jk, new.wait_until - self.clock())
            else:
                self.enqueue(jk)
        elif new.status == EvalStatus.BLOCKED:
            with self._blocked_lock:
                self._blocked.add(jk)

    def _unblock(self) -> None:
        with self._blocked_lock:
            blocked = list(self._blocked)
        for jk in blocked:
            self.enqueue(jk)

    def _on_node(self, key: str, old: Node | None, new: Node | None) -> None:
        if old is not None and new is not None and all(
            getattr(old, f) == getattr(new, f) for f in _CAPACITY_FIELDS
        ):
            return
        self._unblock()
        node = new or old
        assert node is not None
        jobs = {job_key(a.namespace, a.job_id) for a in self.allocs.by_index("node", node.id)}
        jobs |= {job_key(r.namespace, r.id) for r in self.jobs.list() if r.job.type == JobType.SYSTEM}
        for jk in jobs:
            self.enqueue(jk)

    def _on_alloc(self, key: str, old: Allocation | None, new: Allocation | None) -> None:
        a = new or old
        if a is None:
            return
        if new is None or (new.desired_status != DesiredStatus.RUN and (old is None or old.desired_status == DesiredStatus.RUN)):
            self._unblock()
        if old is not None and new is not None and old.desired_status == new.desired_status:
            return  # our own in-place writes; nothing new to decide
        if old is None:
            return  # our own placements
        self.enqueue(job_key(a.namespace, a.job_id))

    def _on_status(self, key: str, old: AllocStatus | None, new: AllocStatus | None) -> None:
        if new is None or (old is not None and old.client_status == new.client_status):
            return
        a = self.allocs.get(self.keys.alloc(new.alloc_id))
        # "running" matters only to a replacement (the update gate, a drained original);
        # every other change (failed, complete, lost) may need a decision
        if a is not None and (new.client_status != ClientStatus.RUNNING or a.previous_allocation):
            self.enqueue(job_key(a.namespace, a.job_id))
        if new.client_status in (ClientStatus.COMPLETE, ClientStatus.FAILED, ClientStatus.LOST):
            self._unblock()

    def on_start(self) -> None:
        for e in self.evals.list():
            self._on_eval("", None, e)
        self._unblock()

    # the loop -----------------------------------------------------------------------------
    def _job_version(self, ns: str, jid: str, version: int) -> Job | None:
        k = (ns, jid, version)
        if k not in self._versions:
            rec = self.store.get(self.keys.job_version(ns, jid, version), JobRecord)
            if rec is None:
                return None
            self._versions[k] = rec.value.job
        return self._versions[k]

    def _wait_cache(self, revision: int) -> bool:
        deadline = time.monotonic() + self.cache_wait
        while self.allocs.revision < revision:
            if time.monotonic() > deadline or self._stop.wait(0.005):
                return False
        return True

    def _job_cache_behind(self, due: list[Evaluation], rec: JobRecord | None, now: float) -> bool:
        """True if an evaluation written with a job change is visibly ahead of the job cache
        (the two arrive on different watch streams): a register or scale evaluation for a
        newer version than the cached record, or a deregister evaluation while the cached
        record still runs (deciding on it would keep a purged job running). Gives up
        waiting after `cache_wait` seconds."""
        for e in due:
            if now - e.create_time >= self.cache_wait:
                continue
            if e.triggered_by == "job-deregister":
                if rec is not None and not rec.stop:
                    return True
            elif e.triggered_by.startswith("job-") and e.job_version > (rec.version if rec else -1):
                return True
        return False

    def reconcile(self, key: str) -> Requeue | None:
        ns, _, jid = key.partition("/")
        now = self.clock()
        gkey = guard_key(self.store, ns, jid)
        grev = read_guard(self.store, gkey)
        if not self._wait_cache(grev):
            return Requeue(0.1)
        jkey = self.keys.job(ns, jid)
        rec_v = self.jobs.get_versioned(jkey)
        rec = rec_v.value if rec_v else None
        evals = self.evals.by_index("job", key)
        due = [e for e in evals if e.status == EvalStatus.PENDING and e.wait_until <= now]
        future = [e for e in evals if e.status == EvalStatus.PENDING and e.wait_until > now]
        blocked = [e for e in evals if e.status == EvalStatus.BLOCKED]
        if self._job_cache_behind(due, rec, now):
            return Requeue(0.02)
        job = rec.job if rec is not None and not rec.stop else None
        version = rec.version if rec else 0
        job_allocs = self.allocs.by_index("job", key)
        statuses = {v.alloc_id: v for v in self.statuses.list()}
        versions = {}
        for a in job_allocs:
            if a.job_version != version and a.job_version not in versions:
                old = self._job_version(ns, jid, a.job_version)
                if old is not None:
                    versions[a.job_version] = old
        due.sort(key=lambda e: e.create_time)
        eval_id = due[-1].id if due else (blocked[-1].id if blocked else EvalId(new_id()))
        dep, created = None, False
        if self.use_deployments and job is not None:
            if not self._deployment_cache_ready(due):
                return Requeue(0.02)
            dep = self._deployment_for(ns, jid, version)
            if dep is None:
                dep = new_deployment(job, version, job_allocs, statuses, dep_id=DeploymentId(new_id()), now=now, versions=versions)
                created = dep is not None
        guard = Guard(gkey, grev, jkey, rec_v.mod_revision if rec_v else 0)
        writer = PipelinedWriter(self.store, guard)
        keys = self.keys
        # a new deployment is written in the same guarded write as the first allocations
        pending_dep: list[tuple[str, Any]] = [(keys.deployment(dep.id), dep)] if created and dep is not None else []

        def sink(new_allocs: list[Allocation]) -> None:
            items: list[tuple[str, Any]] = [(keys.alloc(a.id), a) for a in new_allocs]
            if pending_dep:
                items = pending_dep + items
                pending_dep.clear()
            writer.feed(items)

        # A big plan runs the placer and the writer thread side by side: a short GIL switch
        # interval lets the writer send its next batch as soon as etcd answers instead of
        # waiting up to 5 ms for the placer (the default) at every round trip.
        interval = sys.getswitchinterval()
        if job is not None and sum(g.count for g in job.task_groups) > 1000:
            sys.setswitchinterval(0.0005)
        try:
            d = decide(
                job, version, job_allocs, self.allocs.list(), statuses, self._node_map(), eval_id=eval_id,
                now=now, versions=versions, sink=sink, deployment=dep,
            )
        except BaseException:
            writer.abort()
            raise
        finally:
            sys.setswitchinterval(interval)
        tail = self._eval_updates(ns, jid, rec, d, due, blocked, future, eval_id, now)
        if dep is not None and dep.status in (DeploymentStatus.RUNNING, DeploymentStatus.PAUSED):
            tail = [dataclasses.replace(e, deployment_id=dep.id) if e.id == eval_id else e for e in tail]
        if d.writes or tail:
            self.stats["plans"] += 1
            updates: list[tuple[str, Any]] = [(keys.alloc(a.id), a) for a in d.updated_allocs]
            if pending_dep and d.writes:
                updates = pending_dep + updates  # no new allocation carried it: in-place updates do
            ok = writer.finish(updates, [(keys.eval(e.id), e) for e in tail])
            if not ok:
                self.stats["conflicts"] += 1
                return Requeue(0.0)
            self.stats["placed"] += len(d.new_allocs)
            if created and dep is not None and d.writes:
                self._created[f"{ns}/{jid}/{version}"] = dep
                self.log.info("job=%s deployment=%s version=%d created", key, dep.id, version)
            self.log.info(
                "job=%s eval=%s placed=%d updated=%d failed=%s", key, eval_id, len(d.new_allocs),
                len(d.updated_allocs), sorted(d.failed) or "-",
            )
        with self._blocked_lock:
            if d.failed and job is not None:
                self._blocked.add(key)
            else:
                self._blocked.discard(key)
        waits = [e.wait_until for e in future]
        if d.followup_at is not None:
            waits.append(d.followup_at)
        if waits:
            return Requeue(max(0.0, min(waits) - now))
        return None

    def _deployment_for(self, ns: str, jid: str, version: int) -> Deployment | None:
        """This job version's deployment: from the cache, or the one we just created."""
        assert self.deployments is not None
        k = f"{ns}/{jid}/{version}"
        found = self.deployments.by_index("job_version", k)
        if found:
            self._created.pop(k, None)
            return max(found, key=lambda d: d.create_time)
        return self._created.get(k)

    def _deployment_cache_ready(self, due: list[Evaluation]) -> bool:
        """An evaluation from the deployment watcher is written with the deployment change
        it announces: decide only once the deployments cache holds that change."""
        assert self.deployments is not None
        for e in due:
            if not e.deployment_id:
                continue
            ev = self.evals.get_versioned(self.keys.eval(e.id))
            dv = self.deployments.get_versioned(self.keys.deployment(e.deployment_id))
            if ev is not None and (dv is None or dv.mod_revision < ev.mod_revision) and self.clock() - e.create_time < self.cache_wait:
                return False
        return True

    def _node_map(self) -> dict[NodeId, Node]:
        return {n.id: n for n in self.nodes.list()}

    def _eval_updates(
        self, ns: str, jid: str, rec: JobRecord | None, d: Decision, due: list[Evaluation],
        blocked: list[Evaluation], future: list[Evaluation], eval_id: EvalId, now: float,
    ) -> list[Evaluation]:
        out: list[Evaluation] = []
        metrics: dict[str, Any] = {g: dataclasses.asdict(m) for g, m in d.failed.items()}
        placed = [a.id for a in d.new_allocs[:MAX_PLACED_IDS]]
        status = EvalStatus.BLOCKED if d.failed and rec is not None and not rec.stop else EvalStatus.COMPLETE
        processed = {e.id: e for e in due + blocked}
        if not processed and (d.writes or d.failed):
            # drift found without an evaluation (a failed or lost allocation): record one
            processed[eval_id] = new_eval(ns, jid, "alloc-failure", now=now, record=rec, eval_id=eval_id)
        for e in processed.values():
            main = e.id == eval_id
            new_status = status if main else EvalStatus.COMPLETE
            desc = "" if new_status == EvalStatus.COMPLETE else "created to place remaining allocations"
            if e.status == new_status == EvalStatus.BLOCKED and not d.writes and e.failed_tg_allocs == metrics:
                continue  # still blocked for the same reasons: no rewrite
            out.append(dataclasses.replace(
                e, status=new_status, status_description=desc if main else "superseded by a newer evaluation",
                failed_tg_allocs=metrics if main else {}, queued_allocations=dict(d.queued) if main else {},
                placed=placed if main else [], modify_time=now,
                job_version=rec.version if rec else e.job_version,
            ))
        if d.followup_at is not None and not any(f.wait_until <= d.followup_at for f in future):
            out.append(new_eval(
                ns, jid, "alloc-failure", now=now, record=rec, wait_until=d.followup_at, previous_eval=eval_id,
                status_description="created for delayed rescheduling",
            ))
        return out


def SchedulerService(store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any) -> LeaderElected:
    """The scheduler under leader election; `controller_kw` go to SchedulerController."""
    return LeaderElected(store, "scheduler", identity, lambda: SchedulerController(store, **controller_kw), ttl=ttl)


def run_scheduler(store: Store, identity: str, **kw: Any) -> LeaderElected:
    """Start the leader-elected scheduler; call `.stop()` on the result to end it."""
    svc = SchedulerService(store, identity, **kw)
    svc.start()
    return svc
