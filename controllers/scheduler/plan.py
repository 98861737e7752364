"""The scheduler dry-run behind `POST /v1/job/<id>/plan` and `reconciler plan`.

`plan_job(store, job)` reads the live state (job record and versions, allocations, their
statuses, nodes), runs the same `decide` the controller runs, and reports what would happen
without writing anything. `PlanCache` does the same from informer caches, for an agent that
plans often or on big clusters (no listing per request): hand its `plan_job` to
`ApiContext.planner`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import msgspec

from controllers.scheduler.decide import Decision, decide
from controllers.scheduler.deployment_create import new_deployment
from controllers.scheduler.preempting import JobFacts
from reconciler import codec
from reconciler.model.ids import AllocId, DeploymentId, EvalId, NodeId, new_id
from reconciler.model.job import Job, JobType
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    Deployment,
    DesiredStatus,
    JobRecord,
    Node,
)
from reconciler.model.plan import DesiredUpdates, PlanResult, PreemptedAlloc
from reconciler.model.scheduler_config import DEFAULT as DEFAULT_CONFIG
from reconciler.model.scheduler_config import SchedulerConfig
from reconciler.runtime import Informer
from reconciler.store import Store


def _result(job: Job, d: Decision, modify_index: int, facts: _JobFacts) -> PlanResult:
    out = PlanResult(namespace=job.namespace, job_id=job.id, job_modify_index=modify_index)
    for e in d.evictions:
        v = e.victim
        kind = facts.type_of((v.namespace, v.job_id))
        out.preempted.append(PreemptedAlloc(v.alloc_id, v.namespace, v.job_id, v.group, kind))
    for g, u in d.result.desired_tg_updates.items():
        out.desired_tg_updates[g] = DesiredUpdates(**vars(u))
        out.created += u.place + u.destructive_update + u.migrate + u.canary
        out.destroyed += u.stop + u.destructive_update + u.migrate
    out.failed_tg_allocs = dict(d.failed)
    return out


def _plan(
    store: Store,
    job: Job,
    *,
    current: JobRecord | None,
    modify_index: int,
    all_allocs: Iterable[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    nodes: Mapping[NodeId, Node],
    now: float | None,
) -> PlanResult:
    changed = current is None or current.stop or current.job != job
    version = (current.version + 1 if changed else current.version) if current else 0
    all_list = list(all_allocs)
    mine = [a for a in all_list if a.job_id == job.id and a.namespace == job.namespace]
    versions: dict[int, Job] = {}
    if current is not None:
        versions[current.version] = current.job
    for a in mine:
        if a.job_version not in versions:
            rec = store.get(store.keys.job_version(job.namespace, job.id, a.job_version), JobRecord)
            if rec is not None:
                versions[a.job_version] = rec.value.job
    at = time.time() if now is None else now
    facts = _JobFacts(store)
    cfg = store.get(store.keys.scheduler_config, SchedulerConfig)
    d = decide(
        None if job.is_template() else job,  # a periodic or parameterized job places nothing
        version,
        mine,
        all_list,
        statuses,
        nodes,
        eval_id=EvalId(new_id()),
        now=at,
        versions=versions,
        deployment=_deployment(store, job, version, changed, mine, statuses, versions, at),
        preempt=(cfg.value if cfg else DEFAULT_CONFIG).preemption_config.enabled_for(job.type),
        other_jobs=facts,
    )
    return _result(job, d, modify_index, facts)


class _MigrateCore(msgspec.Struct):
    max_parallel: int = 1


class _GroupCore(msgspec.Struct):
    name: str
    migrate: _MigrateCore = msgspec.field(default_factory=_MigrateCore)


class _JobCore(msgspec.Struct):
    priority: int = 50
    type: str = "service"
    task_groups: list[_GroupCore] = []


class _JobUsage(msgspec.Struct):
    """The fields of a job record preemption and its plan output read."""

    namespace: str
    id: str
    job: _JobCore


_job_usage = msgspec.json.Decoder(_JobUsage)


class _JobFacts(Mapping[tuple[str, str], JobFacts]):
    """Every job's `JobFacts` (and type) by (namespace, job id), listed from etcd the first
    time preemption asks (a plan that never preempts never lists the jobs)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._jobs: dict[tuple[str, str], _JobCore] | None = None

    def _all(self) -> dict[tuple[str, str], _JobCore]:
        if self._jobs is None:
            raw, _ = self._store.list_raw(self._store.keys.jobs)
            self._jobs = {(u.namespace, u.id): u.job for u in (_job_usage.decode(i.value) for i in raw)}
        return self._jobs

    def __getitem__(self, key: tuple[str, str]) -> JobFacts:
        core = self._all()[key]
        service = core.type == JobType.SERVICE
        return JobFacts(
            core.priority, {g.name: g.migrate.max_parallel for g in core.task_groups} if service else {}
        )

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def type_of(self, key: tuple[str, str]) -> str:
        core = self._all().get(key)
        return core.type if core is not None else "service"


class _PortUsage(msgspec.Struct):
    value: int


class _AllocUsage(msgspec.Struct):
    """The fields of an allocation that node usage needs: other jobs' allocations are decoded
    into this (unknown fields skipped), several times faster than the full data class."""

    id: AllocId
    namespace: str
    job_id: str
    task_group: str
    node_id: NodeId
    desired_status: str = DesiredStatus.RUN
    client_status: str | None = None
    cpu: int = 0
    memory: int = 0
    disk: int = 0
    ports: list[_PortUsage] = []


class _StatusUsage(msgspec.Struct):
    alloc_id: AllocId
    client_status: str = ClientStatus.PENDING


_usage = msgspec.json.Decoder(_AllocUsage)
_status_usage = msgspec.json.Decoder(_StatusUsage)


def _deployment(
    store: Store,
    job: Job,
    version: int,
    changed: bool,
    allocs: list[Allocation],
    statuses: Mapping[AllocId, AllocStatus],
    versions: Mapping[int, Job],
    now: float,
) -> Deployment | None:
    """The deployment the plan runs under: the one a new version would get (so canaries show
    as "1 canary"), or the current version's own."""
    if changed:
        return new_deployment(
            job, version, allocs, statuses, dep_id=DeploymentId("plan"), now=now, versions=versions
        )
    items, _ = store.list(store.keys.deployments, Deployment)
    mine = [
        i.value
        for i in items
        if i.value.namespace == job.namespace and i.value.job_id == job.id and i.value.job_version == version
    ]
    return max(mine, key=lambda x: x.create_time) if mine else None


def plan_job(store: Store, job: Job, *, now: float | None = None) -> PlanResult:
    """Dry-run `job` against the cluster as it is now (read fresh from etcd). No writes.
    Only the job's own allocations and statuses are decoded in full."""
    cur = store.get(store.keys.job(job.namespace, job.id), JobRecord)
    raw_allocs, _ = store.list_raw(store.keys.allocs)
    raw_statuses, _ = store.list_raw(store.keys.alloc_statuses)
    nodes, _ = store.list(store.keys.nodes, Node)
    usage: list[Any] = []
    mine: set[str] = set()
    for item in raw_allocs:
        u = _usage.decode(item.value)
        if u.job_id == job.id and u.namespace == job.namespace:
            usage.append(codec.decode(item.value, Allocation))
            mine.add(u.id)
        else:
            usage.append(u)
    statuses: dict[AllocId, Any] = {}
    for item in raw_statuses:
        st = _status_usage.decode(item.value)
        statuses[st.alloc_id] = codec.decode(item.value, AllocStatus) if st.alloc_id in mine else st
    return _plan(
        store,
        job,
        current=cur.value if cur else None,
        modify_index=cur.mod_revision if cur else 0,
        all_allocs=usage,
        statuses=statuses,
        nodes={n.value.id: n.value for n in nodes},
        now=now,
    )


class PlanCache:
    """Dry-runs from watched caches (start once, plan many times)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.allocs: Informer[Allocation] = Informer(store, store.keys.allocs, Allocation, name="plan:allocs")
        self.statuses: Informer[AllocStatus] = Informer(
            store, store.keys.alloc_statuses, AllocStatus, name="plan:status"
        )
        self.nodes: Informer[Node] = Informer(store, store.keys.nodes, Node, name="plan:nodes")

    def start(self, timeout: float = 30.0) -> PlanCache:
        for inf in (self.allocs, self.statuses, self.nodes):
            inf.start()
        for inf in (self.allocs, self.statuses, self.nodes):
            if not inf.wait_synced(timeout):
                raise TimeoutError(f"{inf.name} did not sync")
        return self

    def stop(self) -> None:
        for inf in (self.allocs, self.statuses, self.nodes):
            inf.stop()

    def plan_job(self, store: Store, job: Job, *, now: float | None = None) -> PlanResult:
        cur = store.get(store.keys.job(job.namespace, job.id), JobRecord)
        return _plan(
            store,
            job,
            current=cur.value if cur else None,
            modify_index=cur.mod_revision if cur else 0,
            all_allocs=self.allocs.list(),
            statuses={s.alloc_id: s for s in self.statuses.list()},
            nodes={n.id: n for n in self.nodes.list()},
            now=now,
        )
