"""Whole-collection reads the API's handlers share (allocations, their statuses,
evaluations, deployments), decoded into the model. One place, so a watched cache can later
replace them for every endpoint at once."""

from __future__ import annotations

from reconciler.model.ids import AllocId
from reconciler.model.objects import Allocation, AllocStatus, Deployment, Evaluation
from reconciler.store import Store


def all_allocs(store: Store) -> list[Allocation]:
    items, _ = store.list(store.keys.allocs, Allocation)
    return [i.value for i in items]


def all_statuses(store: Store) -> dict[AllocId, AllocStatus]:
    """Alloc id -> its observed status."""
    items, _ = store.list(store.keys.alloc_statuses, AllocStatus)
    return {i.value.alloc_id: i.value for i in items}


def all_deployments(store: Store) -> dict[str, Deployment]:
    items, _ = store.list(store.keys.deployments, Deployment)
    return {i.value.id: i.value for i in items}


def all_evals(store: Store) -> list[Evaluation]:
    """Newest first."""
    items, _ = store.list(store.keys.evals, Evaluation)
    return sorted((i.value for i in items), key=lambda e: e.create_time, reverse=True)
