"""The user's namespace operations (Nomad's `Namespace.UpsertNamespaces`,
`DeleteNamespaces`) and the guard a job registration carries that its namespace exists.

A namespace is one key (`model.namespaces`). A registration compares that key in its own
transaction (`namespace_guard`), so a namespace deleted after the check fails the write.
Deleting one is refused while a job in it is not dead, as Nomad refuses it; the check reads
the namespace's jobs, their allocations and evaluations, then deletes guarded on the
namespace key's revision. A job registered between that read and the delete is the one race
left (a transaction here cannot compare a whole prefix); the job then stays readable and
can still be stopped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.model.namespaces import DEFAULT, Namespace, default_namespace, name_error
from reconciler.model.objects import Allocation, AllocStatus, Evaluation, JobRecord, JobStatus
from reconciler.model.summary import summarize
from reconciler.ops.errors import NotFound, Rejected
from reconciler.store import Conflict, Store, Txn

log = logging.getLogger(__name__)


class NamespaceNotFound(NotFound):
    """No namespace of that name."""


@dataclass(frozen=True)
class NamespaceSpec:
    """What a user writes: Nomad's `{Name, Description, Meta}`."""

    name: str
    description: str = ""
    meta: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NamespaceWrite:
    namespace: Namespace | None  # None after a delete
    index: int


def get_namespace(store: Store, name: str) -> Namespace | None:
    """The namespace, or None; `default` always exists."""
    if name_error(name) is not None:
        return None
    got = store.get(store.keys.namespace(name), Namespace)
    if got is not None:
        return got.value
    return default_namespace() if name == DEFAULT else None


def namespace_guard(store: Store, name: str) -> Txn:
    """The compare a job write carries so it commits only while its namespace is as just
    read (refused now if it does not exist): a namespace deleted between the check and the
    write fails the write, which then checks again."""
    key = store.keys.namespace(name)
    got = store.get(key, Namespace)
    if got is None and name != DEFAULT:
        raise Rejected(f'namespace "{name}" does not exist', field="Job.Namespace")
    return Txn().compare_mod(key, got.mod_revision if got is not None else 0)


def upsert_namespace(store: Store, spec: NamespaceSpec) -> NamespaceWrite:
    """Create the namespace or replace its description and meta (an update keeps its
    creation time)."""
    err = name_error(spec.name)
    if err is not None:
        raise Rejected(err, field="Name")
    now = time.time()

    def fn(cur: Namespace | None) -> Namespace:
        created = cur.create_time if cur is not None else now
        return Namespace(spec.name, spec.description, dict(spec.meta), created, now)

    got = store.update(store.keys.namespace(spec.name), Namespace, fn)
    assert got is not None  # fn always returns a namespace
    log.info("namespace=%s written", spec.name)
    return NamespaceWrite(got.value, got.mod_revision)


def live_jobs(store: Store, name: str) -> list[str]:
    """The ids of the namespace's jobs that are not dead (Nomad's status, from the same
    summary `job status` shows)."""
    jobs = [i.value for i in store.list(store.keys.jobs_in(name), JobRecord)[0]]
    if not jobs:
        return []
    allocs = [i.value for i in store.list(store.keys.allocs, Allocation)[0] if i.value.namespace == name]
    statuses = {i.value.alloc_id: i.value for i in store.list(store.keys.alloc_statuses, AllocStatus)[0]}
    evs = [i.value for i in store.list(store.keys.evals, Evaluation)[0] if i.value.namespace == name]
    out = []
    for r in jobs:
        mine = [a for a in allocs if a.job_id == r.id]
        its = [e for e in evs if e.job_id == r.id]
        if summarize(r.job, mine, statuses, its, stopped=r.stop).status != JobStatus.DEAD:
            out.append(r.id)
    return sorted(out)


def delete_namespace(store: Store, name: str) -> NamespaceWrite:
    """Delete the namespace, unless it is `default` or a job in it is not dead."""
    if name == DEFAULT:
        raise Rejected("default namespace can not be deleted")
    key = store.keys.namespace(name) if name_error(name) is None else ""
    cur = store.get(key, Namespace) if key else None
    if cur is None:
        raise NamespaceNotFound(f"namespace not found: {name}")
    live = live_jobs(store, name)
    if live:
        raise Rejected(
            f"namespace {name!r} has non-terminal jobs: {', '.join(live)}; stop them first", field="Name"
        )
    if not store.commit(Txn().compare_mod(key, cur.mod_revision).delete(key)):
        raise Conflict(f"namespace {name!r} changed while it was being deleted; try again")
    log.info("namespace=%s deleted", name)
    return NamespaceWrite(None, store.revision())


__all__ = [
    "NamespaceNotFound",
    "NamespaceSpec",
    "NamespaceWrite",
    "delete_namespace",
    "get_namespace",
    "live_jobs",
    "namespace_guard",
    "upsert_namespace",
]
