"""The liveness controller: marks down the ready nodes whose heartbeat key has vanished.

A node agent keeps `node_heartbeats/<node>` alive on a lease; when the agent dies the lease
expires and etcd deletes the key. A raw watch on the heartbeat prefix (values are the agent's
business: never decoded here) and a periodic sweep enqueue the single key "sweep", whose
reconcile compares ready nodes with live heartbeats (`decide_down`, pure). A node is marked
down with a write guarded by its mod revision, and one evaluation is created per job with a
non-terminal allocation on it; the scheduler marks those allocations lost and replaces them.

Every `gc_every` seconds the key "gc" collects finished evaluations and stopped allocations
older than `gc_after` (rules in `gc.py`), so the evaluation and allocation prefixes do not
grow forever.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import Any

from controllers.liveness.gc import allocs_to_collect, evals_to_collect
from reconciler.model.evals import new_eval
from reconciler.model.objects import Allocation, AllocStatus, DesiredStatus, Evaluation, Node, NodeStatus
from reconciler.runtime import Controller, LeaderElected, Requeue
from reconciler.store import MAX_TXN_OPS, Store, StoreError, Txn, Watch, WatchEvent

SWEEP = "sweep"
GC = "gc"


def decide_down(nodes: Iterable[Node], alive: set[str], *, now: float, grace: float) -> list[Node]:
    """Ready nodes without a heartbeat, past `grace` seconds since they last changed (a node
    that just registered may not have written its heartbeat yet)."""
    return [
        n for n in nodes
        if n.status == NodeStatus.READY and n.id not in alive and now - max(n.modify_time, n.create_time) >= grace
    ]


def affected_jobs(allocs: Iterable[Allocation]) -> set[tuple[str, str]]:
    return {(a.namespace, a.job_id) for a in allocs if a.desired_status == DesiredStatus.RUN}


class LivenessController(Controller):
    name = "liveness"

    def __init__(
        self,
        store: Store,
        *,
        grace: float = 2.0,
        sweep_every: float = 2.0,
        gc_every: float = 300.0,
        gc_after: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(store)
        self.grace = grace
        self.gc_every = gc_every
        self.gc_after = gc_after
        self.resync_period = sweep_every
        self.clock = clock
        self.nodes = self.informer(self.keys.nodes, Node)
        self.allocs = self.informer(self.keys.allocs, Allocation)
        self.allocs.add_index("node", lambda a: [a.node_id])
        self.nodes.add_handler(lambda k, o, n: self.enqueue(SWEEP))
        self._watch: Watch | None = None

    def resync_keys(self) -> list[str]:
        return [SWEEP]

    def on_start(self) -> None:
        def on_event(events: list[WatchEvent] | StoreError) -> None:
            if isinstance(events, StoreError) or any(e.type == "delete" for e in events):
                self.enqueue(SWEEP)

        self._watch = self.store.watch(self.keys.heartbeats, self.store.revision() + 1, on_event)
        self.enqueue(SWEEP)
        if self.gc_every > 0:
            self.queue.add_after(GC, self.gc_every)

    def on_stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    def reconcile(self, key: str) -> Requeue | None:
        if key == GC:
            self.collect()
            return Requeue(self.gc_every)
        raw, _ = self.store.list_raw(self.keys.heartbeats)
        alive = {self.keys.last_segment(i.key) for i in raw}
        now = self.clock()
        retry = False
        for node in decide_down(self.nodes.list(), alive, now=now, grace=self.grace):
            cur = self.nodes.get_versioned(self.keys.node(node.id))
            if cur is None:
                continue
            down = dataclasses.replace(cur.value, status=NodeStatus.DOWN, modify_time=now)
            if not self.store.replace(cur.key, cur.mod_revision, down):
                retry = True  # the node changed since we looked (it may be back): look again
                continue
            jobs = affected_jobs(self.allocs.by_index("node", node.id))
            self.store.put_many(
                (self.keys.eval(e.id), e)
                for e in (
                    new_eval(ns, jid, "node-update", now=now, node_id=node.id,
                             status_description=f"node {node.id[:8]} is down")
                    for ns, jid in sorted(jobs)
                )
            )
            self.log.warning("node=%s marked down (heartbeat expired); evals=%d", node.id, len(jobs))
        pending = [n for n in self.nodes.list() if n.status == NodeStatus.READY and n.id not in alive]
        if retry or pending:
            return Requeue(min(self.grace, 0.5))
        return None


    def collect(self) -> tuple[int, int]:
        """Delete finished evaluations and allocations (`gc`); each allocation goes with its
        status key, compared on its mod revision (a concurrent change keeps it)."""
        now = self.clock()
        evals, _ = self.store.list(self.keys.evals, Evaluation)
        gone_evals = evals_to_collect((e.value for e in evals), now=now, after=self.gc_after)
        for i in range(0, len(gone_evals), MAX_TXN_OPS):
            txn = Txn()
            for e in gone_evals[i : i + MAX_TXN_OPS]:
                txn.delete(self.keys.eval(e.id))
            self.store.commit(txn)
        statuses, _ = self.store.list(self.keys.alloc_statuses, AllocStatus)
        by_id = {s.value.alloc_id: s.value for s in statuses}
        revs = {v.value.id: v.mod_revision for v in self.allocs.items()}
        nodes = {n.id: n for n in self.nodes.list()}
        gone = allocs_to_collect(self.allocs.list(), by_id, nodes, now=now, after=self.gc_after)
        n = 0
        for a in gone:
            txn = Txn().compare_mod(self.keys.alloc(a.id), revs.get(a.id, 0))
            txn.delete(self.keys.alloc(a.id)).delete(self.keys.alloc_status(a.id))
            n += 1 if self.store.commit(txn) else 0
        if gone_evals or n:
            self.log.info("gc evals=%d allocs=%d", len(gone_evals), n)
        return len(gone_evals), n


def LivenessService(store: Store, identity: str, *, ttl: int = 10, **controller_kw: Any) -> LeaderElected:
    """Node liveness under leader election; `controller_kw` go to LivenessController."""
    return LeaderElected(store, "liveness", identity, lambda: LivenessController(store, **controller_kw), ttl=ttl)

