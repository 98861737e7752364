"""The liveness controller: marks down (or disconnected) the ready nodes whose heartbeat
key has vanished, and down the disconnected ones no allocation waits for any more.

A node agent keeps `node_heartbeats/<node>` alive on a lease; when the agent dies the lease
expires and etcd deletes the key. An informer follows the heartbeat prefix (values are the
agent's business: kept raw, never decoded), so a broken watch is re-opened from
the last revision and a compaction re-lists, as for every informer. A heartbeat deleted, a
node changed and a periodic resync enqueue the single key "sweep", whose reconcile reads
only the caches, asks `decide.decide_missing` which nodes are down or disconnected (a job's
`disconnect` window, read from the jobs cache, lets its allocations wait for their node) and
`decide.mark_down` for the writes, and commits them: the node's status and its evaluations in one transaction.
A node that changed since it was read (it came back) raises `Conflict`: the sweep is
retried with backoff, from the caches again.

Garbage collection is another controller (`collector.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from controllers.liveness.decide import decide_missing, mark_down
from reconciler.model.disconnect import window
from reconciler.model.objects import Allocation, JobRecord, Node, NodeStatus
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import Conflict, Store

SWEEP = "sweep"


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
        self.jobs = self.informer(self.keys.jobs, JobRecord)
        self.nodes.add_handler(lambda k, o, n: self.enqueue(SWEEP))
        self.heartbeats.add_handler(self._on_heartbeat)

    def _on_heartbeat(self, key: str, old: bytes | None, new: bytes | None) -> None:
        if new is None:
            self.enqueue(SWEEP)

    def resync_keys(self) -> list[str]:
        return [SWEEP]

    def on_start(self) -> None:
        self.enqueue(SWEEP)

    def reconcile(self, key: str) -> Requeue | None:
        alive = {self.keys.last_segment(i.key) for i in self.heartbeats.items()}
        now = self.clock()
        conflicts = []
        missing = decide_missing(
            self.nodes.list(),
            alive,
            lambda nid: self.allocs.by_index("node", nid),
            self._window_of,
            now=now,
            grace=self.grace,
        )
        for node, status in missing:
            cur = self.nodes.get_versioned(self.keys.node(node.id))
            if cur is None:
                continue
            allocs = self.allocs.by_index("node", node.id)
            first, *rest = mark_down(self.keys, cur, allocs, now=now, status=status)
            if not self.store.commit(first):
                conflicts.append(node.id)  # it changed since we looked (it may be back)
                continue
            for txn in rest:
                self.store.commit(txn)
            self.log.warning(
                "node=%s marked %s (heartbeat expired); evals=%d",
                node.id,
                status,
                len(first.puts) - 1 + sum(len(t.puts) for t in rest),
            )
        if conflicts:
            raise Conflict(f"nodes {', '.join(conflicts)} changed since they were read")
        pending = [n for n in self.nodes.list() if n.status == NodeStatus.READY and n.id not in alive]
        return Requeue(min(self.grace, 0.5)) if pending else None

    def _window_of(self, a: Allocation) -> float:
        """How long `a` may wait for its node: its job's group's window (0: none)."""
        rec = self.jobs.get(self.keys.job(a.namespace, a.job_id))
        return window(rec.job.group(a.task_group)) if rec is not None and not rec.stop else 0.0


def LivenessService(store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any) -> LeaderElected:
    """Node liveness under leader election; `controller_kw` go to LivenessController."""
    return LeaderElected(
        store, "liveness", identity, lambda s: LivenessController(s, **controller_kw), ttl=ttl
    )
