"""The liveness decisions (pure): which ready nodes are down, and the writes that mark one
down.

A node is down when it is ready, has no heartbeat key (its agent's lease expired), and has
not changed for `grace` seconds (a node that just registered may not have written its
heartbeat yet). Marking it down is one transaction: the node record, compared on its mod
revision (a node that came back meanwhile is left alone), and one evaluation per job with
a running allocation on it, so the scheduler marks those allocations lost and replaces
them. etcd takes at most MAX_TXN_OPS operations per transaction: a node running more jobs
than fit gets the rest of its evaluations in follow-up transactions (the scheduler also
re-evaluates every job of a node whose record changes, so none is forgotten).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from reconciler.model.objects import Allocation, DesiredStatus, Node, NodeStatus
from reconciler.ops.nodes import node_update_evals
from reconciler.store import MAX_TXN_OPS, Keys, Txn, Versioned


def decide_down(nodes: Iterable[Node], alive: set[str], *, now: float, grace: float) -> list[Node]:
    """Ready nodes without a heartbeat, past `grace` seconds since they last changed."""
    return [
        n
        for n in nodes
        if n.status == NodeStatus.READY
        and n.id not in alive
        and now - max(n.modify_time, n.create_time) >= grace
    ]


def affected_jobs(allocs: Iterable[Allocation]) -> set[tuple[str, str]]:
    return {(a.namespace, a.job_id) for a in allocs if a.desired_status == DesiredStatus.RUN}


def mark_down(keys: Keys, node: Versioned[Node], allocs: Iterable[Allocation], *, now: float) -> list[Txn]:
    """The transactions that mark `node` down; the first holds the guarded node write."""
    nid = node.value.id
    down = dataclasses.replace(node.value, status=NodeStatus.DOWN, modify_time=now)
    evals = node_update_evals(nid, allocs, "node-update", now=now, description=f"node {nid[:8]} is down")
    first = Txn().compare_mod(node.key, node.mod_revision).put(node.key, down)
    txns = [first]
    for e in evals:
        if len(txns[-1]) >= MAX_TXN_OPS:
            txns.append(Txn())
        txns[-1].put(keys.eval(e.id), e)
    return txns
