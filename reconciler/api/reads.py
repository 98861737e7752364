"""Whole-collection reads the API's handlers share, decoded into the model, each with the
store revision it was read at (the response's index). One place, so a watched cache can
later replace them for every endpoint at once."""

from __future__ import annotations

from reconciler.model.ids import AllocId
from reconciler.model.objects import Allocation, AllocStatus, Deployment, Evaluation, JobRecord, Node
from reconciler.store import Store


def all_allocs(store: Store) -> tuple[list[Allocation], int]:
    items, rev = store.list(store.keys.allocs, Allocation)
    return [i.value for i in items], rev


def all_statuses(store: Store) -> tuple[dict[AllocId, AllocStatus], int]:
    """Alloc id -> its observed status."""
    items, rev = store.list(store.keys.alloc_statuses, AllocStatus)
    return {i.value.alloc_id: i.value for i in items}, rev


def all_deployments(store: Store) -> tuple[dict[str, Deployment], int]:
    items, rev = store.list(store.keys.deployments, Deployment)
    return {i.value.id: i.value for i in items}, rev


def deployments_newest_first(store: Store) -> tuple[list[Deployment], int]:
    deps, rev = all_deployments(store)
    return sorted(deps.values(), key=lambda d: (d.create_time, d.job_version), reverse=True), rev


def job_deployments(store: Store, namespace: str, job_id: str) -> tuple[list[Deployment], int]:
    """The job's deployments, newest first."""
    deps, rev = deployments_newest_first(store)
    return [d for d in deps if d.namespace == namespace and d.job_id == job_id], rev


def find_deployment(store: Store, dep_id: str) -> tuple[Deployment | None, int]:
    """A deployment by full id or unique prefix (the CLI shows 8 characters)."""
    deps, rev = all_deployments(store)
    if dep_id in deps:
        return deps[dep_id], rev
    matches = [d for d in deps.values() if d.id.startswith(dep_id)]
    return (matches[0] if len(matches) == 1 else None), rev


def all_evals(store: Store) -> tuple[list[Evaluation], int]:
    """Newest first."""
    items, rev = store.list(store.keys.evals, Evaluation)
    return sorted((i.value for i in items), key=lambda e: e.create_time, reverse=True), rev


def all_nodes(store: Store) -> tuple[list[Node], int]:
    """By name."""
    items, rev = store.list(store.keys.nodes, Node)
    return sorted((i.value for i in items), key=lambda n: n.name), rev


def job_record(store: Store, namespace: str, job_id: str) -> tuple[JobRecord | None, int]:
    """The job's current record and its mod revision (0 if there is none)."""
    cur = store.get(store.keys.job(namespace, job_id), JobRecord)
    return (cur.value, cur.mod_revision) if cur is not None else (None, 0)
