"""The liveness decisions (pure): which nodes lost their heartbeat and what they become,
and the writes that mark them.

A node has lost its heartbeat when it is ready, has no heartbeat key (its agent's lease
expired), and has not changed for `grace` seconds (a node that just registered may not
have written its heartbeat yet). It becomes `disconnected` when an allocation on it may
wait for it (its group has a `disconnect` window: see reconciler.model.disconnect), else
`down`; a disconnected node becomes down once no allocation waits any more.

Marking nodes is one transaction for several of them (`pack`): each node record compared
on the mod revision it was read at (a node that came back meanwhile fails the transaction,
and the controller retries its nodes one by one) and one evaluation per job with a running
allocation on any of them, so the scheduler marks those allocations lost (or unknown) and
replaces them. Nodes dying together (a rack, a zone) are thus marked in a few writes, not
one fsync'd transaction each, and a job on many of them gets one evaluation per
transaction rather than one per node. etcd takes at most MAX_TXN_OPS operations per
transaction: a node running more jobs than fit gets the rest of its evaluations in
follow-up transactions (the scheduler also re-evaluates every job of a node whose record
changes, so none is forgotten).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.model import evals
from reconciler.model.disconnect import awaits_reconnect
from reconciler.model.ids import NodeId
from reconciler.model.objects import Allocation, DesiredStatus, JobRecord, Node, NodeStatus
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


@dataclass(frozen=True)
class Down:
    """A node to mark: its record as read (the compare is on that read's mod revision), the
    jobs running on it and the status it gets (`down`, or `disconnected` while an allocation
    on it may wait for it)."""

    node: Versioned[Node]
    jobs: frozenset[tuple[str, str]]
    status: NodeStatus = NodeStatus.DOWN

    @classmethod
    def of(
        cls, node: Versioned[Node], allocs: Iterable[Allocation], status: NodeStatus = NodeStatus.DOWN
    ) -> Down:
        nid = node.value.id
        return cls(node, frozenset(affected_jobs(a for a in allocs if a.node_id == nid)), status)


def _ops(nodes: int, jobs: int) -> int:
    """Operations of one transaction marking `nodes` down with `jobs` evaluations."""
    return 2 * nodes + jobs  # a compare and a put per node, a put per evaluation


def pack(downs: Sequence[Down]) -> list[list[Down]]:
    """Group the nodes so that each group's transaction fits etcd's limit (its evaluations
    shared: a job running on several nodes of a group counts once). A node whose own jobs
    do not fit is a group of its own (its evaluations overflow into follow-ups)."""
    groups: list[list[Down]] = []
    jobs: set[tuple[str, str]] = set()
    for d in downs:
        if groups and _ops(len(groups[-1]) + 1, len(jobs | d.jobs)) <= MAX_TXN_OPS:
            groups[-1].append(d)
            jobs |= d.jobs
        else:
            groups.append([d])
            jobs = set(d.jobs)
    return groups


def _description(downs: Sequence[Down]) -> str:
    """The evaluation's description: "node abcd1234 is down", "nodes a, b are disconnected";
    nodes of mixed statuses are named by status ("nodes a, b are down; c is disconnected")."""
    by_status: dict[NodeStatus, list[str]] = {}
    for d in downs:
        by_status.setdefault(d.status, []).append(d.node.value.id[:8])
    parts = [
        f"{', '.join(ids)} {'is' if len(ids) == 1 else 'are'} {status}" for status, ids in by_status.items()
    ]
    return f"{'node' if len(downs) == 1 else 'nodes'} {'; '.join(parts)}"


def mark_down(
    keys: Keys,
    group: Sequence[Down],
    *,
    now: float,
    records: Mapping[tuple[str, str], JobRecord | None] | None = None,
) -> list[Txn]:
    """The transactions that mark the group's nodes down (or disconnected: each its own
    `status`); the first holds every guarded node write. One evaluation per job: with the
    node's id when one node of the group runs it, and the job's priority and type from its
    record in `records` ((namespace, job) -> record: the scheduler takes evaluations by
    priority, so a high-priority job's replacements go first)."""
    records = records or {}
    first = Txn()
    by_job: dict[tuple[str, str], list[Down]] = {}
    for d in group:
        n = d.node
        first.compare_mod(n.key, n.mod_revision).put(
            n.key, dataclasses.replace(n.value, status=d.status, modify_time=now)
        )
        for job in d.jobs:
            by_job.setdefault(job, []).append(d)
    txns = [first]
    for (ns, jid), downs in sorted(by_job.items()):
        e = evals.new_eval(
            ns,
            jid,
            "node-update",
            record=records.get((ns, jid)),
            node_id=NodeId(downs[0].node.value.id if len(downs) == 1 else ""),
            status_description=_description(downs),
            now=now,
        )
        if len(txns[-1]) >= MAX_TXN_OPS:
            txns.append(Txn())
        txns[-1].put(keys.eval(e.id), e)
    return txns
