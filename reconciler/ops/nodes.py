"""The user's node operations: scheduling eligibility and drain.

Each changes the node record with a compare on its mod revision (`Store.update`) and, in
the same transaction, creates an evaluation for every job with a running allocation on
the node, so the scheduler moves work off a drained node at once (Nomad's node endpoint
does the same fan-out). The liveness controller makes the same fan-out when a node goes
down (`node_update_evals` is the piece both can share).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from reconciler.model import evals
from reconciler.model.ids import NodeId
from reconciler.model.objects import Allocation, DesiredStatus, Evaluation, JobRecord, Node, NodeEligibility
from reconciler.ops.errors import NodeNotFound, Rejected
from reconciler.store import MAX_TXN_OPS, Store, Txn

ELIGIBILITIES = tuple(NodeEligibility)


@dataclass(frozen=True)
class NodeUpdate:
    """What a node operation wrote: the node, its evaluations, and the commit's revision."""

    node: Node
    eval_ids: list[str]
    modify_index: int


def node_update_evals(
    node_id: str,
    allocs: Iterable[Allocation],
    trigger: str,
    *,
    now: float,
    description: str = "",
    records: Mapping[tuple[str, str], JobRecord | None] | None = None,
) -> list[Evaluation]:
    """One evaluation per job with a running allocation on the node (sorted by job), with
    the job's type and priority when `records` has its record (else the defaults)."""
    jobs = sorted(
        {
            (a.namespace, a.job_id)
            for a in allocs
            if a.node_id == node_id and a.desired_status == DesiredStatus.RUN
        }
    )
    return [
        evals.new_eval(
            ns,
            jid,
            trigger,
            node_id=NodeId(node_id),
            status_description=description,
            now=now,
            record=(records or {}).get((ns, jid)),
        )
        for ns, jid in jobs
    ]


def _update_node(
    store: Store, node_id: str, change: Callable[[Node, float], Node], trigger: str
) -> NodeUpdate:
    """Apply `change` to the node and create its evaluations in one transaction; the
    evaluations beyond what one transaction holds (a node running over a hundred jobs)
    are written right after it."""
    items, _ = store.list(store.keys.allocs, Allocation)
    allocs = [i.value for i in items if i.value.node_id == node_id]
    records: dict[tuple[str, str], JobRecord | None] = {}  # the evaluations carry their job's priority
    for a in allocs:
        if a.desired_status == DesiredStatus.RUN and (a.namespace, a.job_id) not in records:
            rec = store.get(store.keys.job(a.namespace, a.job_id), JobRecord)
            records[(a.namespace, a.job_id)] = rec.value if rec else None
    batch: list[list[Evaluation]] = [[]]

    def fn(cur: Node | None) -> Node:
        if cur is None:
            raise NodeNotFound(f"node not found: {node_id}")
        return change(cur, time.time())

    def also(new: Node) -> Txn:
        batch[0] = node_update_evals(node_id, allocs, trigger, now=new.modify_time, records=records)
        txn = Txn()
        for ev in batch[0][: MAX_TXN_OPS - 2]:
            txn.put(store.keys.eval(ev.id), ev)
        return txn

    got = store.update(store.keys.node(node_id), Node, fn, also=also)
    assert got is not None  # fn raises for an absent node
    overflow = batch[0][MAX_TXN_OPS - 2 :]
    if overflow:
        store.put_many((store.keys.eval(e.id), e) for e in overflow)
    return NodeUpdate(got.value, [e.id for e in batch[0]], got.mod_revision)


def set_eligibility(store: Store, node_id: str, eligibility: str) -> NodeUpdate:
    """Mark the node eligible or ineligible for new placements (a draining node stays ineligible)."""
    if eligibility not in ELIGIBILITIES:
        raise Rejected('Eligibility must be "eligible" or "ineligible"', field="Eligibility")

    def change(n: Node, now: float) -> Node:
        if n.drain and eligibility == NodeEligibility.ELIGIBLE:
            raise Rejected("can not set eligibility to eligible on a draining node")
        return replace(n, eligibility=NodeEligibility(eligibility), modify_time=now)

    return _update_node(store, node_id, change, "node-update")


def drain(store: Store, node_id: str, *, enable: bool, mark_eligible: bool = False) -> NodeUpdate:
    """Start draining (the node becomes ineligible and its allocations are rescheduled) or
    stop draining (eligible again only with `mark_eligible`, as in Nomad)."""

    def change(n: Node, now: float) -> Node:
        if enable:
            return replace(n, drain=True, eligibility=NodeEligibility.INELIGIBLE, modify_time=now)
        return replace(
            n,
            drain=False,
            eligibility=NodeEligibility.ELIGIBLE if mark_eligible else n.eligibility,
            modify_time=now,
        )

    return _update_node(store, node_id, change, "node-drain")
