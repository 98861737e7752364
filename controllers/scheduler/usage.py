"""What the running allocations take of each node, summed over the whole cluster and kept up
to date from the allocations and allocation statuses caches as they change.

Without it every plan summed all allocations of the cluster again (10,000 allocations on
1,000 nodes: most of a job's 70-140 ms reconcile, once per job when 100 nodes are lost at
once). `UsageIndex` is fed by the two informers under their locks (`Informer.add_aggregate`),
so once the allocations cache has reached a revision the sums include every write up to it:
the scheduler's "the cache shows our last plan" wait covers them too. A plan reads a
`UsageSnapshot` (O(nodes): the per-node sums a snapshot holds are copied before they next
change, never modified under it), and `state.states_from_usage` turns it into the plan's
mutable node states: `decide` stays a pure function of plain values.

An allocation is charged while it is desired `run` and not terminal on its client (the
model's `is_terminal`, here from the two caches' latest values).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from reconciler.model.alloc_status import CLIENT_TERMINAL
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.objects import Allocation, AllocStatus, DesiredStatus

K = TypeVar("K")


class Charge(NamedTuple):
    """What one running allocation takes of its node (a named tuple: one is made per
    allocation change, on the watch thread)."""

    node_id: NodeId
    cpu: int
    memory: int
    disk: int
    ports: tuple[int, ...]
    namespace: str
    job_id: str
    group: str

    @classmethod
    def of(cls, a: Allocation) -> Charge:
        ports = tuple(p.value for p in a.ports) if a.ports else ()
        return cls(a.node_id, a.cpu, a.memory, a.disk, ports, a.namespace, a.job_id, a.task_group)

    @property
    def job_key(self) -> str:
        return f"{self.namespace}/{self.job_id}"


def charge_of(alloc: Allocation, status: str | None) -> Charge | None:
    """The allocation's charge if it runs (`status`: its agent's reported client status)."""
    if alloc.desired_status != DesiredStatus.RUN:
        return None
    if (alloc.client_status or status or "") in CLIENT_TERMINAL:
        return None
    return Charge.of(alloc)


def _bump(counts: dict[K, int], key: K, by: int) -> None:
    n = counts.get(key, 0) + by
    if n > 0:
        counts[key] = n
    else:
        counts.pop(key, None)


@dataclass(slots=True)
class NodeUsage:
    """The sum of the charges on one node. Read-only for everyone but the `UsageIndex` that
    made it, which changes it in place only while no snapshot can hold it (`epoch`, see
    `UsageIndex.snapshot`); `plus` returns a changed copy."""

    cpu: int = 0
    memory: int = 0
    disk: int = 0
    ports: dict[int, int] = field(default_factory=dict)  # port -> allocations holding it
    groups: dict[tuple[str, str], int] = field(default_factory=dict)  # (job, group) -> allocs
    jobs: dict[str, int] = field(default_factory=dict)
    epoch: int = field(default=0, compare=False)  # the index's epoch it may be changed in

    @property
    def empty(self) -> bool:
        return not self.jobs

    def copy(self, epoch: int = 0) -> NodeUsage:
        return NodeUsage(
            self.cpu, self.memory, self.disk, dict(self.ports), dict(self.groups), dict(self.jobs), epoch
        )

    def plus(self, charges: Iterable[Charge], sign: int = 1) -> NodeUsage:
        """A copy of this usage with `charges` added (`sign` 1) or taken away (-1)."""
        u = self.copy()
        for c in charges:
            u.add(c, sign)
        return u

    def add(self, c: Charge, sign: int = 1) -> None:
        """Add `c` (`sign` 1) or take it away (-1), in place: only on a fresh copy."""
        self.cpu += sign * c.cpu
        self.memory += sign * c.memory
        self.disk += sign * c.disk
        for p in c.ports:
            _bump(self.ports, p, sign)
        _bump(self.groups, (c.job_id, c.group), sign)
        _bump(self.jobs, c.job_id, sign)


def sum_charges(charges: Iterable[Charge], *, epoch: int = 0) -> dict[NodeId, NodeUsage]:
    """The usage of every node the charges fall on, from scratch."""
    nodes: dict[NodeId, NodeUsage] = {}
    for c in charges:
        u = nodes.get(c.node_id)
        if u is None:
            u = nodes[c.node_id] = NodeUsage(epoch=epoch)
        u.add(c)
    return nodes


@dataclass(frozen=True)
class UsageSnapshot:
    """The cluster's usage at one moment, for one job's plan: the sums per node, and the
    charges of that job's allocations (those a plan that stops them gives back)."""

    nodes: Mapping[NodeId, NodeUsage]
    charged: Mapping[AllocId, Charge] = field(default_factory=dict)


class UsageIndex:
    """The per-node usage, maintained from every change of the allocations (`allocs_feed`)
    and of their reported statuses (`statuses_feed`). Its own lock is taken inside either
    informer's lock (never the other way round), so the two watch threads and the readers
    never deadlock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._allocs: dict[AllocId, Allocation] = {}
        self._status: dict[AllocId, str] = {}  # the agents' client statuses
        self._charges: dict[AllocId, Charge] = {}
        self._by_job: dict[str, set[AllocId]] = {}  # "<namespace>/<job>" -> charged allocs
        self._nodes: dict[NodeId, NodeUsage] = {}
        self._epoch = 0  # advanced by each snapshot: sums of an older epoch are shared
        self.allocs_feed = _AllocsFeed(self)
        self.statuses_feed = _StatusesFeed(self)

    def snapshot(self, job_key: str = "") -> UsageSnapshot:
        """The sums now, and the charges of the job `job_key` ("<namespace>/<job>"). A new
        epoch begins: every per-node sum the snapshot holds is copied before it is next
        changed (so the snapshot is O(nodes), and a burst of changes between two snapshots
        copies each node's sums once at most)."""
        with self._lock:
            self._epoch += 1
            charged = {i: self._charges[i] for i in self._by_job.get(job_key, ())}
            return UsageSnapshot(dict(self._nodes), charged)

    # fed by the informers (their lock held) ------------------------------------------------
    def reset_allocs(self, allocs: Iterable[Allocation]) -> None:
        with self._lock:
            self._allocs = {a.id: a for a in allocs}
            self._rebuild()

    def reset_statuses(self, statuses: Iterable[AllocStatus]) -> None:
        with self._lock:
            self._status = {s.alloc_id: s.client_status for s in statuses}
            self._rebuild()

    def alloc_changed(self, old: Allocation | None, new: Allocation | None) -> None:
        with self._lock:
            if new is not None:
                self._allocs[new.id] = new
                self._refresh(new.id)
            if old is not None and (new is None or new.id != old.id):
                self._allocs.pop(old.id, None)
                self._refresh(old.id)

    def status_changed(self, old: AllocStatus | None, new: AllocStatus | None) -> None:
        with self._lock:
            if new is not None:
                self._status[new.alloc_id] = new.client_status
                self._refresh(new.alloc_id)
            if old is not None and (new is None or new.alloc_id != old.alloc_id):
                self._status.pop(old.alloc_id, None)
                self._refresh(old.alloc_id)

    # lock held ------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        status = self._status
        charges: dict[AllocId, Charge] = {}
        by_job: dict[str, set[AllocId]] = {}
        for aid, a in self._allocs.items():
            c = charge_of(a, status.get(aid))
            if c is not None:
                charges[aid] = c
                by_job.setdefault(c.job_key, set()).add(aid)
        self._charges, self._by_job = charges, by_job
        self._nodes = sum_charges(charges.values(), epoch=self._epoch)

    def _refresh(self, aid: AllocId) -> None:
        a = self._allocs.get(aid)
        new = charge_of(a, self._status.get(aid)) if a is not None else None
        old = self._charges.get(aid)
        if new == old:
            return
        if old is not None:
            del self._charges[aid]
            self._charge(old, -1)
            ids = self._by_job.get(old.job_key)
            if ids is not None:
                ids.discard(aid)
                if not ids:
                    del self._by_job[old.job_key]
        if new is not None:
            self._charges[aid] = new
            self._charge(new, 1)
            self._by_job.setdefault(new.job_key, set()).add(aid)

    def _charge(self, c: Charge, sign: int) -> None:
        nid, epoch = c.node_id, self._epoch
        u = self._nodes.get(nid)
        if u is None:
            u = self._nodes[nid] = NodeUsage(epoch=epoch)
        elif u.epoch != epoch:  # a snapshot may hold it: change a copy
            u = self._nodes[nid] = u.copy(epoch)
        u.add(c, sign)
        if u.empty:
            del self._nodes[nid]


class _AllocsFeed:
    """The allocations informer's side of a `UsageIndex` (an `informer.Aggregate`)."""

    def __init__(self, index: UsageIndex) -> None:
        self._index = index

    def reset(self, items: Mapping[str, Allocation]) -> None:
        self._index.reset_allocs(items.values())

    def change(self, key: str, old: Allocation | None, new: Allocation | None) -> None:
        self._index.alloc_changed(old, new)


class _StatusesFeed:
    """The allocation statuses informer's side of a `UsageIndex` (an `informer.Aggregate`)."""

    def __init__(self, index: UsageIndex) -> None:
        self._index = index

    def reset(self, items: Mapping[str, AllocStatus]) -> None:
        self._index.reset_statuses(items.values())

    def change(self, key: str, old: AllocStatus | None, new: AllocStatus | None) -> None:
        self._index.status_changed(old, new)
