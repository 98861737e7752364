"""The scheduler controller: one job per work-queue key (`<namespace>/<job>`).

Watch handlers only enqueue job keys: a pending evaluation, a job record change, a change of
one of the job's allocations or their client status, a replacement's check changing state
(a drain's migration waits for it), and, for jobs whose last evaluation is
blocked (something could not be placed), any new capacity: a node that joins or changes, an
allocation that stops, or a change of the scheduler configuration (preemption). Keys leave
the queue by the priority of the job's pending evaluations, then oldest first
(`queue_order`, Nomad's evaluation broker).

`reconcile(key)` has the one controller shape (docs/architecture.md): it reads only
informer caches (the job's guard key included) and the `JobVersions` lister, runs the pure
`decide_batches`, and writes what it yields through a `PipelinedWriter` (guarded batches,
each committed while the next is placed), then the evaluations `evals.eval_updates` decides
on. A cache found behind a revision it must reflect is waited for (`Informer.wait_revision`)
for a moment, then the key goes back on the queue with backoff (`CacheBehind`); a lost
race raises `Conflict` and backs off the same way.

Run it under leader election with `SchedulerService(store, identity).start()`.

Over 400 lines because it is one concept, the controller: its watch handlers, the cache
reads that build a job's view and the apply of a decision share the same informers and
indexes; the decision itself and every pure step live in the modules below it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controllers.scheduler.decide import Decision, decide_batches
from controllers.scheduler.deployment_create import new_deployment
from controllers.scheduler.evals import eval_updates, preemption_evals
from controllers.scheduler.preempting import JobFacts, job_facts
from controllers.scheduler.queue_order import DEFAULT_RANK, job_rank
from controllers.scheduler.stream import drain
from controllers.scheduler.usage import UsageIndex
from controllers.scheduler.writer import Guard, PipelinedWriter, guard_key
from reconciler import metrics
from reconciler.model.ids import AllocId, DeploymentId, EvalId, NodeId, new_id
from reconciler.model.job import Job, one_per_node
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
from reconciler.model.scheduler_config import DEFAULT as DEFAULT_CONFIG
from reconciler.model.scheduler_config import SchedulerConfig
from reconciler.model.services import CheckStatus
from reconciler.runtime import Controller, Informer, JobVersions, LeaderElected, Requeue
from reconciler.runtime.workqueue import PriorityWorkQueue, WorkQueue
from reconciler.store import Conflict, Store

_CAPACITY_FIELDS = (
    "status",
    "eligibility",
    "drain",
    "resources",
    "reserved",
    "drivers",
    "attributes",
    "meta",
    "datacenter",
)


NODE_TRIGGERS = frozenset({"node-update", "node-drain"})  # evaluations written with a node change
CATCH_UP = 0.5  # seconds a reconcile waits for a cache to reach a revision before backing off


def job_key(namespace: str, job_id: str) -> str:
    return f"{namespace}/{job_id}"


class CacheBehind(Exception):
    """A cache has not reached a revision the decision must see yet: retry with backoff."""


@dataclass(frozen=True)
class _View:
    """What one reconcile of a job reads, all from caches."""

    namespace: str
    job_id: str
    guard: Guard
    record: JobRecord | None
    due: list[Evaluation]  # pending and due, oldest first
    blocked: list[Evaluation]
    future: list[Evaluation]  # pending, waiting for their time

    @property
    def job(self) -> Job | None:
        # a periodic job is a template: only its children run (controllers/periodic)
        rec = self.record
        return rec.job if rec is not None and not rec.stop and not rec.job.is_template() else None

    @property
    def version(self) -> int:
        return self.record.version if self.record else 0


class SchedulerController(Controller):
    name = "scheduler"

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], float] = time.time,
        deployments: bool = False,
    ) -> None:
        super().__init__(store)
        self.clock = clock
        # with a deployment controller running: create deployments, let them gate updates
        self.use_deployments = deployments
        self.deployments = self.informer(self.keys.deployments, Deployment) if deployments else None
        if self.deployments is not None:
            self.deployments.add_index("job_version", lambda d: [f"{d.namespace}/{d.job_id}/{d.job_version}"])
        self._created: dict[str, Deployment] = {}  # ours, until the cache shows them
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.guards: Informer[bytes] = self.informer(self.keys.kind("sched_guard"), bytes)
        self.evals = self.informer(self.keys.evals, Evaluation)
        self.nodes = self.informer(self.keys.nodes, Node)
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.statuses = self.informer(self.keys.alloc_statuses, AllocStatus)
        self.checks = self.informer(self.keys.checks, CheckStatus)
        self.sched_config = self.informer(self.keys.kind("scheduler_config"), SchedulerConfig)
        # preemption turned on may place what is blocked: look again at blocked jobs
        self.sched_config.add_handler(lambda key, old, new: self._unblock())
        self.checks.add_index("alloc", lambda c: [c.alloc_id] if c.alloc_id else [])
        self.evals.add_index("job", lambda e: [job_key(e.namespace, e.job_id)])
        self.allocs.add_index("job", lambda a: [job_key(a.namespace, a.job_id)])
        self.allocs.add_index("node", lambda a: [a.node_id])
        # every node's usage, summed as allocations and their statuses change (not per plan)
        self.usage = UsageIndex()
        self.allocs.add_aggregate(self.usage.allocs_feed)
        self.statuses.add_aggregate(self.usage.statuses_feed)
        # job record changes come with an evaluation (as in Nomad): evaluations drive them
        self.evals.add_handler(self._on_eval)
        self.nodes.add_handler(self._on_node)
        self.allocs.add_handler(self._on_alloc)
        self.statuses.add_handler(self._on_status)
        self.checks.add_handler(self._on_check)
        self._blocked: set[str] = set()
        self._blocked_lock = threading.Lock()
        self.versions = JobVersions(store)
        self._written = 0  # the guard revision of this controller's last committed batch
        self.stats: dict[str, int] = {"plans": 0, "placed": 0, "conflicts": 0}

    # the queue: jobs by the priority of their pending evaluations (Nomad's eval broker) ----
    def new_queue(self) -> WorkQueue[str]:
        return PriorityWorkQueue(default=DEFAULT_RANK)

    def _ranked(self, key: str) -> None:
        """Give `key` its rank (`queue_order.job_rank`) for when it joins the ready keys."""
        ns, _, jid = key.partition("/")
        rec = self.jobs.get(self.keys.job(ns, jid))
        queue = self.queue
        if isinstance(queue, PriorityWorkQueue):
            queue.set_rank(
                key,
                job_rank(self.evals.by_index("job", key), rec.job.priority if rec else None, self.clock()),
            )

    def enqueue(self, key: str) -> None:
        self._ranked(key)
        self.queue.add(key)

    # handlers: enqueue only ---------------------------------------------------------------
    def _on_eval(self, key: str, old: Evaluation | None, new: Evaluation | None) -> None:
        if new is None:
            return
        jk = job_key(new.namespace, new.job_id)
        if new.status == EvalStatus.PENDING:
            if new.wait_until > self.clock():
                self._ranked(jk)
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
        if (
            old is not None
            and new is not None
            and all(getattr(old, f) == getattr(new, f) for f in _CAPACITY_FIELDS)
        ):
            return
        self._unblock()
        node = new or old
        assert node is not None
        jobs = {job_key(a.namespace, a.job_id) for a in self.allocs.by_index("node", node.id)}
        jobs |= {job_key(r.namespace, r.id) for r in self.jobs.list() if one_per_node(r.job.type)}
        for jk in jobs:
            self.enqueue(jk)

    def _on_alloc(self, key: str, old: Allocation | None, new: Allocation | None) -> None:
        a = new or old
        if a is None:
            return
        if new is None or (
            new.desired_status != DesiredStatus.RUN
            and (old is None or old.desired_status == DesiredStatus.RUN)
        ):
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

    def _on_check(self, key: str, old: CheckStatus | None, new: CheckStatus | None) -> None:
        c = new or old
        a = self.allocs.get(self.keys.alloc(c.alloc_id)) if c is not None else None
        # only a replacement's checks matter: a drained original waits for them
        if (
            a is not None
            and a.previous_allocation
            and (old is None or new is None or old.status != new.status)
        ):
            self.enqueue(job_key(a.namespace, a.job_id))

    def on_start(self) -> None:
        for e in self.evals.list():
            self._on_eval("", None, e)
        self._unblock()

    # the loop -----------------------------------------------------------------------------
    def _catch_up(self, informer: Informer[Any], revision: int) -> None:
        if not informer.wait_revision(revision, CATCH_UP):
            raise CacheBehind(f"{informer.name} has not reached revision {revision}")

    def _written_beside(self, e: Evaluation) -> list[Informer[Any]]:
        """The caches whose change an evaluation was written with, in one transaction: a
        job's (register, scale, stop, purge), a node's (purge, drain, eligibility, down), a
        deployment's (the deployment watcher's)."""
        caches: list[Informer[Any]] = []
        if e.triggered_by.startswith("job-"):
            caches.append(self.jobs)
        if e.triggered_by in NODE_TRIGGERS:
            caches.append(self.nodes)
        if e.deployment_id and self.deployments is not None:
            caches.append(self.deployments)
        return caches

    def _catch_up_to_evals(self, due: list[Evaluation]) -> None:
        """Each cache an evaluation's change went to arrives on a watch stream of its own:
        wait until every such cache reflects the evaluation's revision, so the decision sees
        what the evaluation was written for (a purged node or job still cached would keep its
        allocations in place). Nomad's workers wait the same way for a state snapshot at least
        as new as the evaluation."""
        wanted: dict[str, tuple[Informer[Any], int]] = {}
        for e in due:
            caches = self._written_beside(e)
            ev = self.evals.get_versioned(self.keys.eval(e.id)) if caches else None
            if ev is None:
                continue
            for informer in caches:
                _, revision = wanted.get(informer.name, (informer, 0))
                wanted[informer.name] = (informer, max(revision, ev.mod_revision))
        for informer, revision in wanted.values():
            self._catch_up(informer, revision)

    def _view(self, key: str, now: float) -> _View:
        ns, _, jid = key.partition("/")
        gkey = guard_key(self.store, ns, jid)
        # our own last plan first (the guard cache may not show it yet), then every plan
        # the guard records: the allocations they wrote are what this decision starts from
        self._catch_up(self.guards, self._written)
        g = self.guards.get_versioned(gkey)
        grev = g.mod_revision if g else 0
        # every job's placements share the nodes' ports and resources: the allocations cache
        # must also show our last plan for any job, not only this job's last one
        self._catch_up(self.allocs, max(grev, self._written))
        jkey = self.keys.job(ns, jid)
        evals = self.evals.by_index("job", key)
        due = sorted(
            (e for e in evals if e.status == EvalStatus.PENDING and e.wait_until <= now),
            key=lambda e: e.create_time,
        )
        self._catch_up_to_evals(due)
        rec_v = self.jobs.get_versioned(jkey)
        return _View(
            namespace=ns,
            job_id=jid,
            guard=Guard(gkey, grev, jkey, rec_v.mod_revision if rec_v else 0),
            record=rec_v.value if rec_v else None,
            due=due,
            blocked=[e for e in evals if e.status == EvalStatus.BLOCKED],
            future=[e for e in evals if e.status == EvalStatus.PENDING and e.wait_until > now],
        )

    def _old_versions(self, view: _View, job_allocs: Sequence[Allocation]) -> dict[int, Job]:
        versions: dict[int, Job] = {}
        for a in job_allocs:
            if a.job_version != view.version and a.job_version not in versions:
                old = self.versions.get(view.namespace, view.job_id, a.job_version)
                if old is not None:
                    versions[a.job_version] = old.job
        return versions

    def reconcile(self, key: str) -> Requeue | None:
        started = time.perf_counter()
        now = self.clock()
        view = self._view(key, now)
        job, version = view.job, view.version
        job_allocs = self.allocs.by_index("job", key)
        preempt = job is not None and self._preemption_for(job.type)
        usage = None if preempt else self.usage.snapshot(key)
        statuses = self._statuses_of(job_allocs if usage is not None else None)
        versions = self._old_versions(view, job_allocs)
        eval_id = view.due[-1].id if view.due else (view.blocked[-1].id if view.blocked else EvalId(new_id()))
        dep, created = None, False
        if self.use_deployments and job is not None:
            dep = self._deployment_for(view.namespace, view.job_id, version)
            if dep is None:
                dep = new_deployment(
                    job,
                    version,
                    job_allocs,
                    statuses,
                    dep_id=DeploymentId(new_id()),
                    now=now,
                    versions=versions,
                )
                created = dep is not None
        keys = self.keys
        writer = PipelinedWriter(self.store, view.guard)
        # a new deployment is written in the same guarded write as the first allocations
        first: list[tuple[str, Any]] = [(keys.deployment(dep.id), dep)] if created and dep is not None else []

        def write(batch: list[Allocation]) -> None:
            writer.feed([*first, *((keys.alloc(a.id), a) for a in batch)])
            first.clear()

        try:
            d = drain(
                decide_batches(
                    job,
                    version,
                    job_allocs,
                    self.allocs.list() if usage is None else (),
                    statuses,
                    self._node_map(),
                    eval_id=eval_id,
                    now=now,
                    versions=versions,
                    deployment=dep,
                    checks=self._checks_of(job_allocs),
                    preempt=preempt,
                    other_jobs=_Facts(self),
                    usage=usage,
                ),
                write,
            )
        except BaseException:
            writer.abort()
            raise
        active = dep is not None and dep.status in (DeploymentStatus.RUNNING, DeploymentStatus.PAUSED)
        tail = eval_updates(
            namespace=view.namespace,
            job_id=view.job_id,
            record=view.record,
            decision=d,
            due=view.due,
            blocked=view.blocked,
            future=view.future,
            eval_id=eval_id,
            followup_id=EvalId(new_id()),
            deployment_id=dep.id if active and dep is not None else DeploymentId(""),
            now=now,
        )
        tail += preemption_evals(d, _Records(self), now=now)
        if d.writes or tail:
            self._commit(key, writer, d, first, tail)
            if created and dep is not None and d.writes:
                self._created[f"{view.namespace}/{view.job_id}/{version}"] = dep
                self.log.info("job=%s deployment=%s version=%d created", key, dep.id, version)
            self.log.info(
                "job=%s eval=%s placed=%d updated=%d failed=%s",
                key,
                eval_id,
                len(d.new_allocs),
                len(d.updated_allocs),
                sorted(d.failed) or "-",
            )
            for e in d.evictions:
                self.log.info("job=%s alloc=%s preempted by alloc=%s", key, e.victim.alloc_id, e.by)
        metrics.scheduled(
            len(view.due) + len(view.blocked), len(d.new_allocs), len(d.failed), time.perf_counter() - started
        )
        with self._blocked_lock:
            if d.failed and job is not None:
                self._blocked.add(key)
            else:
                self._blocked.discard(key)
        waits = [e.wait_until for e in view.future]
        waits.extend(t for t in (d.followup_at, d.look_again_at) if t is not None)
        if waits:
            return Requeue(max(0.0, min(waits) - now))
        return None

    def _commit(
        self,
        key: str,
        writer: PipelinedWriter,
        d: Decision,
        first: list[tuple[str, Any]],
        tail: list[Evaluation],
    ) -> None:
        """The rest of the plan after the batches already fed: the updated allocations (with
        the new deployment if no batch carried it), then the evaluations. Raises `Conflict`
        if another writer got there first."""
        self.stats["plans"] += 1
        updates: list[tuple[str, Any]] = [(self.keys.alloc(a.id), a) for a in d.updated_allocs]
        if first and d.writes:
            updates = first + updates
        ok = writer.finish(updates, [(self.keys.eval(e.id), e) for e in tail])
        self._written = max(self._written, writer.chain.guard.revision)
        if not ok:
            self.stats["conflicts"] += 1
            raise Conflict(f"job={key} plan lost a race; deciding again")
        self.stats["placed"] += len(d.new_allocs)

    def _deployment_for(self, ns: str, jid: str, version: int) -> Deployment | None:
        """This job version's deployment: from the cache, or the one we just created."""
        assert self.deployments is not None
        k = f"{ns}/{jid}/{version}"
        found = self.deployments.by_index("job_version", k)
        if found:
            self._created.pop(k, None)
            return max(found, key=lambda d: d.create_time)
        return self._created.get(k)

    def _checks_of(self, allocs: Sequence[Allocation]) -> dict[AllocId, list[CheckStatus]]:
        """The check statuses of allocations that replace another (what a migration waits for)."""
        return {
            a.id: found
            for a in allocs
            if a.previous_allocation and (found := self.checks.by_index("alloc", a.id))
        }

    def _statuses_of(self, allocs: Sequence[Allocation] | None) -> dict[AllocId, AllocStatus]:
        """The reported statuses of `allocs` (None: of every allocation, which only a plan
        summing every allocation itself needs)."""
        if allocs is None:
            return {v.alloc_id: v for v in self.statuses.list()}
        get, key = self.statuses.get, self.keys.alloc_status
        return {a.id: st for a in allocs if (st := get(key(a.id))) is not None}

    def _node_map(self) -> dict[NodeId, Node]:
        return {n.id: n for n in self.nodes.list()}

    def _preemption_for(self, job_type: str) -> bool:
        """Whether the scheduler configuration lets this job type preempt (Nomad's default
        when never written: the system scheduler only)."""
        got = self.sched_config.get(self.keys.scheduler_config)
        return (got or DEFAULT_CONFIG).preemption_config.enabled_for(job_type)


class _Records(Mapping[tuple[str, str], JobRecord | None]):
    """Job records by (namespace, job id), read from the controller's cache on demand."""

    def __init__(self, ctl: SchedulerController) -> None:
        self._ctl = ctl

    def __getitem__(self, key: tuple[str, str]) -> JobRecord | None:
        return self._ctl.jobs.get(self._ctl.keys.job(*key))

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter((r.namespace, r.id) for r in self._ctl.jobs.list())

    def __len__(self) -> int:
        return len(self._ctl.jobs.list())


class _Facts(Mapping[tuple[str, str], JobFacts]):
    """What preemption needs of each job (priority, migrate max_parallel), read from the
    cache for the jobs it asks about only."""

    def __init__(self, ctl: SchedulerController) -> None:
        self._records = _Records(ctl)

    def __getitem__(self, key: tuple[str, str]) -> JobFacts:
        rec = self._records[key]
        if rec is None:
            raise KeyError(key)
        return job_facts(rec.job)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)


def SchedulerService(store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any) -> LeaderElected:
    """The scheduler under leader election; `controller_kw` go to SchedulerController."""
    return LeaderElected(
        store, "scheduler", identity, lambda s: SchedulerController(s, **controller_kw), ttl=ttl
    )


def run_scheduler(store: Store, identity: str, **kw: Any) -> LeaderElected:
    """Start the leader-elected scheduler; call `.stop()` on the result to end it."""
    svc = SchedulerService(store, identity, **kw)
    svc.start()
    return svc
