"""Nomad's event stream, decided: which events the key changes of one etcd revision make,
and which of them a subscription wants. Pure: no I/O, no clock; `api/events.py` feeds it
from an etcd watch and writes the frames.

Nomad gives every event of one write (one raft apply) the write's type: a job
registration's evaluation is a `JobRegistered` event too, everything a plan wrote is a
`PlanResult`. A revision here is one etcd transaction, so the revision's type is the type
of its most significant change (`PRECEDENCE`: a job write, then a scheduler plan, marked by
its `sched_guard/` key, then an allocation's desired state, its client status, a
deployment, a node, a service, an evaluation), and every event of the revision carries it.
As in Nomad, deleting an allocation, evaluation or deployment (garbage collection) makes
no event; deleting a job, node or service does, with the object as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.api.allocations import alloc_full
from reconciler.api.deployments import deployment_json
from reconciler.api.evaluations import eval_shape
from reconciler.api.jobs import job_json
from reconciler.api.nodes import node_full
from reconciler.api.services import registration_json
from reconciler.model.objects import Allocation, AllocStatus, Deployment, Evaluation, JobRecord, Node
from reconciler.model.services import ServiceRegistration
from reconciler.store import Versioned


class Topic(StrEnum):
    JOB = "Job"
    ALLOCATION = "Allocation"
    DEPLOYMENT = "Deployment"
    EVALUATION = "Evaluation"
    NODE = "Node"
    SERVICE = "Service"


ALL = "*"

# the key kinds (first segment under the prefix) the stream reads, and what each decodes to
KIND_TYPES: dict[str, type] = {
    "jobs": JobRecord,
    "allocs": Allocation,
    "alloc_status": AllocStatus,
    "deployments": Deployment,
    "evals": Evaluation,
    "nodes": Node,
    "services": ServiceRegistration,
}
PLAN_MARKER = "sched_guard"  # bumped by every scheduler transaction that writes allocations


@dataclass(frozen=True)
class Change:
    """One key's change in a revision: `old`/`new` decoded (None: absent before / deleted)."""

    kind: str
    old: Any = None
    new: Any = None
    create_revision: int = 0


@dataclass(frozen=True)
class Event:
    topic: Topic
    type: str
    key: str
    namespace: str
    filter_keys: tuple[str, ...]
    payload: dict[str, Any]

    def to_json(self, index: int) -> dict[str, Any]:
        return {
            "Topic": str(self.topic),
            "Type": self.type,
            "Key": self.key,
            "Namespace": self.namespace,
            "FilterKeys": list(self.filter_keys) or None,
            "Index": index,
            "Payload": self.payload,
        }


# --- the type of each change, and of the revision -----------------------------------------


def _job_type(c: Change) -> str:
    if c.new is None:
        return "JobDeregistered"
    stopped = c.new.stop and (c.old is None or not c.old.stop)
    return "JobDeregistered" if stopped else "JobRegistered"


def _deployment_type(c: Change) -> str:
    old, new = c.old, c.new
    if old is not None and any(
        g.promoted and not (old.task_groups.get(n) and old.task_groups[n].promoted)
        for n, g in new.task_groups.items()
    ):
        return "DeploymentPromotion"
    if (
        old is not None
        and old.status == new.status
        and (
            old.healthy_alloc_ids != new.healthy_alloc_ids
            or old.unhealthy_alloc_ids != new.unhealthy_alloc_ids
        )
    ):
        return "DeploymentAllocHealth"
    return "DeploymentStatusUpdate"


def _node_type(c: Change) -> str:
    if c.new is None:
        return "NodeDeregistration"
    if c.old is None:
        return "NodeRegistration"
    if c.old.drain != c.new.drain or c.old.eligibility != c.new.eligibility:
        return "NodeDrain"  # Nomad types eligibility updates as drains too
    return "NodeStreamEvent"


OWN_TYPE: dict[str, Callable[[Change], str]] = {
    "jobs": _job_type,
    PLAN_MARKER: lambda c: "PlanResult",
    "allocs": lambda c: "AllocationUpdateDesiredStatus",
    "alloc_status": lambda c: "AllocationUpdated",
    "deployments": _deployment_type,
    "nodes": _node_type,
    "services": lambda c: "ServiceRegistration" if c.new is not None else "ServiceDeregistration",
    "evals": lambda c: "EvaluationUpdated",
}
PRECEDENCE = list(OWN_TYPE)
DELETES_WITH_EVENTS = frozenset({"jobs", "nodes", "services"})


def _makes_event(c: Change) -> bool:
    return c.new is not None or c.kind in DELETES_WITH_EVENTS


def revision_type(changes: Sequence[Change]) -> str | None:
    """The type every event of the revision carries (None: the revision makes no event)."""
    counted = [c for c in changes if c.kind == PLAN_MARKER or _makes_event(c)]
    if not counted:
        return None
    first = min(counted, key=lambda c: PRECEDENCE.index(c.kind))
    return OWN_TYPE[first.kind](first)


# --- the event of each change ---------------------------------------------------------------


Shaped = tuple[Topic, str, str, tuple[str, ...], dict[str, Any]]


def _alloc_event(alloc: Allocation, status: AllocStatus | None) -> Shaped:
    keys = (alloc.job_id, alloc.deployment_id) if alloc.deployment_id else (alloc.job_id,)
    return Topic.ALLOCATION, alloc.id, alloc.namespace, keys, {"Allocation": alloc_full(alloc, status)}


def _shape(
    c: Change, index: int, allocs: Mapping[str, Allocation], statuses: Mapping[str, AllocStatus]
) -> Shaped | None:
    """Topic, key, namespace, filter keys and payload of one change (None: no event)."""
    obj = c.new if c.new is not None else c.old
    if c.kind == "jobs":
        return Topic.JOB, obj.id, obj.namespace, (), {"Job": job_json(obj, index, str(obj.status))}
    if c.kind == "allocs":
        return _alloc_event(obj, statuses.get(obj.id))
    if c.kind == "alloc_status":
        alloc = allocs.get(obj.alloc_id)
        return _alloc_event(alloc, obj) if alloc is not None else None  # its allocation is gone
    if c.kind == "deployments":
        return Topic.DEPLOYMENT, obj.id, obj.namespace, (obj.job_id,), {"Deployment": deployment_json(obj)}
    if c.kind == "evals":
        keys = (obj.job_id, obj.deployment_id) if obj.deployment_id else (obj.job_id,)
        return Topic.EVALUATION, obj.id, obj.namespace, keys, {"Evaluation": eval_shape(obj)}
    if c.kind == "nodes":
        return Topic.NODE, obj.id, "", (), {"Node": node_full(obj)}
    if c.kind == "services":
        reg = registration_json(Versioned("", obj, index, c.create_revision or index))
        return Topic.SERVICE, obj.id, obj.namespace, (obj.job_id, obj.service_name), {"Service": reg}
    return None


def events_for(
    changes: Sequence[Change],
    index: int,
    allocs: Mapping[str, Allocation],
    statuses: Mapping[str, AllocStatus],
) -> list[Event]:
    """The events of one revision. `allocs`/`statuses` are the allocations and client
    statuses as of this revision (an allocation's event joins both halves)."""
    typ = revision_type(changes)
    if typ is None:
        return []
    out = []
    for c in changes:
        if c.kind == PLAN_MARKER or not _makes_event(c):
            continue
        shaped = _shape(c, index, allocs, statuses)
        if shaped is not None:
            topic, key, ns, filter_keys, payload = shaped
            out.append(Event(topic, typ, key, ns, filter_keys, payload))
    return out


# --- subscriptions ----------------------------------------------------------------------------

Topics = Mapping[str, Sequence[str]]


def parse_topics(values: Sequence[str]) -> dict[str, list[str]]:
    """Nomad's `topic=Topic:key` parameters (`Topic` alone means `Topic:*`; none at all means
    every topic). Raises ValueError on a malformed one."""
    if not values:
        return {ALL: [ALL]}
    topics: dict[str, list[str]] = {}
    for raw in values:
        parts = raw.split(":")
        if len(parts) > 2 or not parts[0] or (len(parts) == 2 and not parts[1]):
            raise ValueError(f"invalid topic {raw!r}: expected Topic or Topic:key")
        topics.setdefault(parts[0], []).append(parts[1] if len(parts) == 2 else ALL)
    return topics


def wanted(event: Event, topics: Topics, namespace: str) -> bool:
    """Nomad's subscription filter: the namespace (`*` every one; events without one, such
    as nodes, always pass), then a key of the event's topic or of `*`: `*`, the event's key
    or one of its filter keys (a job id for its allocations, evaluations, deployments)."""
    if namespace != ALL and event.namespace and event.namespace != namespace:
        return False
    keys = [*topics.get(str(event.topic), ()), *topics.get(ALL, ())]
    return any(k in (ALL, event.key) or k in event.filter_keys for k in keys)
