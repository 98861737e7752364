"""The liveness decisions (pure): which ready nodes are down, and the writes that mark them
down.

A node is down when it is ready, has no heartbeat key (its agent's lease expired), and has
not changed for `grace` seconds (a node that just registered may not have written its
heartbeat yet). Marking nodes down is one transaction for several of them (`pack`): each
node record compared on the mod revision it was read at (a node that came back meanwhile
fails the transaction, and the controller retries its nodes one by one) and one evaluation
per job with a running allocation on any of them, so the scheduler marks those allocations
lost and replaces them. Nodes dying together (a rack, a zone) are thus marked down in a few
writes, not one fsync'd transaction each, and a job on many of them gets one evaluation per
transaction rather than one per node. etcd takes at most MAX_TXN_OPS operations per
transaction: a node running more jobs than fit gets the rest of its evaluations in
follow-up transactions (the scheduler also re-evaluates every job of a node whose record
changes, so none is forgotten).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.model import evals
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


def affected_jobs(allocs: Iterable[Allocation]) -> set[tuple[str, str]]:
    return {(a.namespace, a.job_id) for a in allocs if a.desired_status == DesiredStatus.RUN}


@dataclass(frozen=True)
class Down:
    """A node to mark down: its record as read (the compare is on that read's mod revision)
    and the jobs running on it."""

    node: Versioned[Node]
    jobs: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, node: Versioned[Node], allocs: Iterable[Allocation]) -> Down:
        nid = node.value.id
        return cls(node, frozenset(affected_jobs(a for a in allocs if a.node_id == nid)))


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


def _description(node_ids: Sequence[str]) -> str:
    if len(node_ids) == 1:
        return f"node {node_ids[0][:8]} is down"
    return f"nodes {', '.join(n[:8] for n in node_ids)} are down"


def mark_down(
    keys: Keys,
    group: Sequence[Down],
    *,
    now: float,
    records: Mapping[tuple[str, str], JobRecord | None] | None = None,
) -> list[Txn]:
    """The transactions that mark the group's nodes down; the first holds every guarded node
    write. One evaluation per job: with the node's id when one node of the group runs it,
    and the job's priority and type from its record in `records` ((namespace, job) ->
    record: the scheduler takes evaluations by priority, so a high-priority job's
    replacements go first)."""
    records = records or {}
    first = Txn()
    by_job: dict[tuple[str, str], list[str]] = {}
    for d in group:
        n = d.node
        first.compare_mod(n.key, n.mod_revision).put(
            n.key, dataclasses.replace(n.value, status=NodeStatus.DOWN, modify_time=now)
        )
        for job in d.jobs:
            by_job.setdefault(job, []).append(n.value.id)
    txns = [first]
    for (ns, jid), nodes in sorted(by_job.items()):
        e = evals.new_eval(
            ns,
            jid,
            "node-update",
            record=records.get((ns, jid)),
            node_id=NodeId(nodes[0] if len(nodes) == 1 else ""),
            status_description=_description(nodes),
            now=now,
        )
        if len(txns[-1]) >= MAX_TXN_OPS:
            txns.append(Txn())
        txns[-1].put(keys.eval(e.id), e)
    return txns
