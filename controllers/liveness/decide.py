"""The liveness decisions (pure): which nodes lost their heartbeat and what they become,
and the writes that mark one.

A node has lost its heartbeat when it is ready, has no heartbeat key (its agent's lease
expired), and has not changed for `grace` seconds (a node that just registered may not
have written its heartbeat yet). It becomes `disconnected` when an allocation on it may
wait for it (its group has a `disconnect` window: see reconciler.model.disconnect), else
`down`; a disconnected node becomes down once no allocation waits any more.

Marking it is one transaction: the node record, compared on its mod revision (a node
that came back meanwhile is left alone), and one evaluation per job with a running
allocation on it, so the scheduler marks those allocations lost (or unknown) and replaces
them. etcd takes at most MAX_TXN_OPS operations per transaction: a node running more jobs
than fit gets the rest of its evaluations in follow-up transactions (the scheduler also
re-evaluates every job of a node whose record changes, so none is forgotten).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from reconciler.model.disconnect import awaits_reconnect
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


def waits_for(
    node: Node, allocs: Iterable[Allocation], window_of: Callable[[Allocation], float], now: float
) -> bool:
    """Some allocation on `node` may still wait for it (counted from when it went away:
    now for a ready node, its last change for a disconnected one)."""
    since = node.modify_time if node.status == NodeStatus.DISCONNECTED else now
    return any(awaits_reconnect(a, window_of(a), since=since, now=now) for a in allocs)


def decide_missing(
    nodes: Iterable[Node],
    alive: set[str],
    allocs_on: Callable[[str], list[Allocation]],
    window_of: Callable[[Allocation], float],
    *,
    now: float,
    grace: float,
) -> list[tuple[Node, NodeStatus]]:
    """The nodes whose heartbeat is missing and the status each gets now: a ready one is
    disconnected or down, a disconnected one whose allocations wait no more is down."""
    out: list[tuple[Node, NodeStatus]] = []
    nodes = list(nodes)
    for n in decide_down(nodes, alive, now=now, grace=grace):
        waits = waits_for(n, allocs_on(n.id), window_of, now)
        out.append((n, NodeStatus.DISCONNECTED if waits else NodeStatus.DOWN))
    for n in nodes:
        gone = n.status == NodeStatus.DISCONNECTED and n.id not in alive
        if gone and not waits_for(n, allocs_on(n.id), window_of, now):
            out.append((n, NodeStatus.DOWN))
    return out


def affected_jobs(allocs: Iterable[Allocation]) -> set[tuple[str, str]]:
    return {(a.namespace, a.job_id) for a in allocs if a.desired_status == DesiredStatus.RUN}


def mark_down(
    keys: Keys,
    node: Versioned[Node],
    allocs: Iterable[Allocation],
    *,
    now: float,
    status: NodeStatus = NodeStatus.DOWN,
) -> list[Txn]:
    """The transactions that mark `node` down (or `status`: disconnected); the first holds
    the guarded node write."""
    nid = node.value.id
    down = dataclasses.replace(node.value, status=status, modify_time=now)
    evals = node_update_evals(nid, allocs, "node-update", now=now, description=f"node {nid[:8]} is {status}")
    first = Txn().compare_mod(node.key, node.mod_revision).put(node.key, down)
    txns = [first]
    for e in evals:
        if len(txns[-1]) >= MAX_TXN_OPS:
            txns.append(Txn())
        txns[-1].put(keys.eval(e.id), e)
    return txns
