"""The liveness controller: marks down (or disconnected) the ready nodes whose heartbeat
key has vanished, and down the disconnected ones no allocation waits for any more.

A node agent keeps `node_heartbeats/<node>` alive on a lease; when the agent dies the lease
expires and etcd deletes the key. An informer follows the heartbeat prefix (values are the
agent's business: kept raw, never decoded), so a broken watch is re-opened from
the last revision and a compaction re-lists, as for every informer. A heartbeat deleted, a
node changed and a periodic resync enqueue the single key "sweep", whose reconcile reads
only the caches, asks `decide.decide_missing` which nodes are down or disconnected (a job's
`disconnect` window, read from the jobs cache, lets its allocations wait for their node),
`decide.pack` how to group them and `decide.mark_down` for each group's writes, and commits
them: the nodes' status and their evaluations in one transaction per group (100 nodes lost
together take a handful), each evaluation with its job's priority and type (from the
same jobs cache). A group with a node that changed since it was read (it came back)
is retried node by node; a node that still conflicts raises `Conflict`: the sweep is
retried with backoff, from the caches again.

Garbage collection is another controller (`collector.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from controllers.liveness.decide import Down, decide_missing, mark_down, pack
from reconciler.model.disconnect import window
from reconciler.model.objects import Allocation, JobRecord, Node, NodeStatus
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import Conflict, Store

SWEEP = "sweep"
CATCH_UP = 0.5  # seconds a sweep waits for the nodes cache to show the last nodes it marked


class LivenessController(Controller):
    name = "liveness"

    def __init__(
        self,
        store: Store,
        *,
        grace: float = 2.0,
        sweep_every: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(store)
        self.grace = grace
        self.resync_period = sweep_every
        self.clock = clock
        self.nodes = self.informer(self.keys.nodes, Node)
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.allocs.add_index("node", lambda a: [a.node_id])
        self.heartbeats = self.informer(self.keys.heartbeats, bytes)
        # the jobs' priority and type go on their node-down evaluations
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.nodes.add_handler(lambda k, o, n: self.enqueue(SWEEP))
        self.heartbeats.add_handler(self._on_heartbeat)
        self._written = 0  # the revision of this controller's last node write

    def _on_heartbeat(self, key: str, old: bytes | None, new: bytes | None) -> None:
        if new is None:
            self.enqueue(SWEEP)

    def resync_keys(self) -> list[str]:
        return [SWEEP]

    def on_start(self) -> None:
        self.enqueue(SWEEP)

    def reconcile(self, key: str) -> Requeue | None:
        alive = {self.keys.last_segment(i.key) for i in self.heartbeats.items()}
        # our own last marks first: a sweep that does not see them retries them, and
        # conflicts with itself (the cache lags a burst of writes)
        self.nodes.wait_revision(self._written, CATCH_UP)
        now = self.clock()
        # one read of the nodes: what is decided is what is compared (a node re-read after
        # the decision may already show this controller's own write)
        read = {i.value.id: i for i in self.nodes.items()}
        missing = decide_missing(
            [i.value for i in read.values()],
            alive,
            lambda nid: self.allocs.by_index("node", nid),
            self._window_of,
            now=now,
            grace=self.grace,
        )
        downs = [Down.of(read[n.id], self.allocs.by_index("node", n.id), status) for n, status in missing]
        conflicts = [nid for group in pack(downs) for nid in self._mark_all(group, now)]
        if conflicts:
            raise Conflict(f"nodes {', '.join(conflicts)} changed since they were read")
        pending = [n for n in self.nodes.list() if n.status == NodeStatus.READY and n.id not in alive]
        return Requeue(min(self.grace, 0.5)) if pending else None

    def _window_of(self, a: Allocation) -> float:
        """How long `a` may wait for its node: its job's group's window (0: none)."""
        rec = self.jobs.get(self.keys.job(a.namespace, a.job_id))
        return window(rec.job.group(a.task_group)) if rec is not None and not rec.stop else 0.0

    def _mark_all(self, group: list[Down], now: float) -> list[str]:
        """Mark the group's nodes; if one of them changed, each node on its own. The ids of
        the nodes that changed since they were read."""
        if self._mark(group, now):
            return []
        if len(group) == 1:
            return [group[0].node.value.id]
        return [nid for d in group for nid in self._mark_all([d], now)]

    def _mark(self, group: list[Down], now: float) -> bool:
        """Mark the group's nodes down or disconnected in one guarded transaction (and the
        evaluations that did not fit in follow-ups); False if one of them changed since it
        was read."""
        records = {j: self.jobs.get(self.keys.job(*j)) for d in group for j in d.jobs}
        first, *rest = mark_down(self.keys, group, now=now, records=records)
        written = self.store.commit_revision(first)
        if written is None:
            return False
        self._written = max(self._written, written)
        for txn in rest:
            self.store.commit(txn)
        evals = len(first.puts) - len(group) + sum(len(t.puts) for t in rest)
        for d in group:
            self.log.warning(
                "node=%s marked %s (heartbeat expired); nodes in txn=%d evals=%d",
                d.node.value.id,
                d.status,
                len(group),
                evals,
            )
        return True


def LivenessService(store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any) -> LeaderElected:
    """Node liveness under leader election; `controller_kw` go to LivenessController."""
    return LeaderElected(
        store, "liveness", identity, lambda s: LivenessController(s, **controller_kw), ttl=ttl
    )
