"""The reads the API's handlers share, from the watched caches (`reconciler.api.watched`),
decoded into the model: one place, so every endpoint reads the same way.

Each read has an index function beside it: the revisions of what its answer is made of
(`views.answer` blocks on their maximum and keys its rendered answers by them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar, cast

from reconciler.api.watched import Table, WatchedState, job_scope
from reconciler.model.ids import AllocId
from reconciler.model.objects import Allocation, AllocStatus, Deployment, Evaluation, JobRecord, Node
from reconciler.model.summary import JobSummary, summarize
from reconciler.store import Store

T = TypeVar("T")
K = TypeVar("K", bound=str)


class Lookup(Mapping[K, T], Generic[K, T]):
    """A table's objects by id, each looked up by its key: what the shape functions take as
    a mapping, without building a dictionary of the whole table per request."""

    def __init__(self, table: Table[T], key_of: Callable[[str], str]) -> None:
        self.table = table
        self.key_of = key_of

    def __getitem__(self, ident: K) -> T:
        got = self.table.get(self.key_of(ident)) if ident else None
        if got is None:
            raise KeyError(ident)
        return got

    def __iter__(self) -> Iterator[K]:
        inf = self.table.informer
        return (cast(K, inf.store.keys.last_segment(v.key)) for v in inf.items())

    def __len__(self) -> int:
        return len(self.table.items())


def statuses(w: WatchedState) -> Lookup[AllocId, AllocStatus]:
    """Alloc id -> its observed status."""
    return Lookup(w.statuses, w.store.keys.alloc_status)


def deployments(w: WatchedState) -> Lookup[str, Deployment]:
    return Lookup(w.deployments, w.store.keys.deployment)


def newest_first(items: list[Deployment]) -> list[Deployment]:
    return sorted(items, key=lambda d: (d.create_time, d.job_version), reverse=True)


def job_deployments(w: WatchedState, namespace: str, job_id: str) -> list[Deployment]:
    """The job's deployments, newest first."""
    return newest_first(w.deployments.by_index("job", job_scope(namespace, job_id)))


def find_deployment(w: WatchedState, dep_id: str) -> Deployment | None:
    """A deployment by full id or unique prefix (the CLI shows 8 characters)."""
    got = w.deployments.get(w.store.keys.deployment(dep_id)) if dep_id else None
    if got is not None:
        return got
    matches = [d for d in w.deployments.items() if d.id.startswith(dep_id)]
    return matches[0] if len(matches) == 1 else None


def newest_evals(evals: list[Evaluation]) -> list[Evaluation]:
    return sorted(evals, key=lambda e: e.create_time, reverse=True)


def job_evals(w: WatchedState, namespace: str, job_id: str) -> list[Evaluation]:
    """Newest first."""
    return newest_evals(w.evals.by_index("job", job_scope(namespace, job_id)))


def job_allocs(w: WatchedState, namespace: str, job_id: str) -> list[Allocation]:
    return w.allocs.by_index("job", job_scope(namespace, job_id))


def all_nodes(w: WatchedState) -> list[Node]:
    """By name."""
    return sorted(w.nodes.list(), key=lambda n: n.name)


def job_record(w: WatchedState, namespace: str, job_id: str) -> tuple[JobRecord | None, int]:
    """The job's current record and its mod revision (0 if there is none)."""
    cur = w.jobs.informer.get_versioned(w.store.keys.job(namespace, job_id))
    return (cur.value, cur.mod_revision) if cur is not None else (None, 0)


def stored_record(store: Store, namespace: str, job_id: str) -> tuple[JobRecord | None, int]:
    """The job's record as etcd has it now, and its mod revision (0 if there is none): the
    one read that bypasses the caches, for a plan that must diff against what is committed."""
    cur = store.get(store.keys.job(namespace, job_id), JobRecord)
    return (cur.value, cur.mod_revision) if cur is not None else (None, 0)


def job_summary(w: WatchedState, rec: JobRecord) -> JobSummary:
    """The job's summary and status (pending/running/dead), derived from its allocations
    and evaluations as Nomad does."""
    return summarize(
        rec.job,
        job_allocs(w, rec.namespace, rec.id),
        statuses(w),
        w.evals.by_index("job", job_scope(rec.namespace, rec.id)),
        stopped=rec.stop,
    )


def job_history(w: WatchedState, namespace: str, job_id: str) -> list[JobRecord]:
    """Every stored version, newest first."""
    return sorted(w.versions.by_index("job", job_scope(namespace, job_id)), key=lambda r: -r.version)


# --- indexes: the revisions an answer is made of -------------------------------------------


def job_index(w: WatchedState, namespace: str, job_id: str) -> tuple[int, ...]:
    """A job, its status and summary: its record, allocations, their statuses, evaluations."""
    scope = job_scope(namespace, job_id)
    return (
        w.jobs.key_index(w.store.keys.job(namespace, job_id)),
        w.allocs.scope_index("job", scope),
        w.statuses.scope_index("job", scope),
        w.evals.scope_index("job", scope),
    )


def allocs_index(w: WatchedState, scope: str = "", value: str = "") -> tuple[int, ...]:
    """Allocation stubs (all of them, or one scope's: a job's, a node's, a deployment's):
    the allocations, their statuses, and the deployments that judge their health."""
    if not scope:
        return (w.allocs.index, w.statuses.index, w.deployments.index)
    deps = w.deployments.index if scope != "job" else w.deployments.scope_index("job", value)
    return (w.allocs.scope_index(scope, value), w.statuses.scope_index(scope, value), deps)
