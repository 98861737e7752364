"""Node registration and liveness: the node record (written at start and on re-registering)
and the heartbeat key bound to a `KeptLease` (refreshed every TTL/3). If the agent dies, the
lease expires and the heartbeat key vanishes: that is how the cluster learns. A lost lease
(etcd restarted, long pause) is replaced by a new one."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from pathlib import Path

from reconciler.model.ids import is_valid_name, new_id
from reconciler.model.objects import ClusterIdentity, Node, NodeHeartbeat
from reconciler.store import KeptLease, Store, StoreError

log = logging.getLogger(__name__)


CLUSTER_FILE = Path("client") / "cluster-id"


class ClusterMismatch(StoreError):
    """The data dir belongs to another cluster than the store's: starting would collect
    every allocation of the data dir as an orphan."""


def check_cluster(store: Store, data_dir: Path) -> str:
    """The cluster id of `store` (created on first use), which the data dir must share: it
    is written there on the data dir's first start (or its first start since clusters had
    ids). Raises ClusterMismatch when the data dir already names another cluster."""
    store.create(store.keys.cluster, ClusterIdentity(new_id(), time.time()))
    got = store.get(store.keys.cluster, ClusterIdentity)
    if got is None:
        raise StoreError(f"cluster identity {store.keys.cluster} vanished right after it was created")
    cluster = got.value.id
    path = data_dir / CLUSTER_FILE
    try:
        mine = path.read_text().strip()
    except FileNotFoundError:
        mine = ""
    if mine and mine != cluster:
        raise ClusterMismatch(
            f"data dir {data_dir} belongs to cluster {mine}, but etcd {','.join(store.endpoints)} "
            f"(prefix {store.keys.prefix!r}) is cluster {cluster}: refusing to start, as this node "
            f"would stop and delete every allocation it ran for the other cluster. Check --etcd and "
            f"--prefix; to give this data dir to this cluster anyway, delete {path}"
        )
    if not mine:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cluster + "\n")
    return cluster


def load_node_id(data_dir: Path) -> str:
    """The node id persisted in `<data-dir>/client/node-id` (created on first start)."""
    path = data_dir / "client" / "node-id"
    try:
        nid = path.read_text().strip()
        if is_valid_name(nid):
            return nid
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    nid = new_id()
    path.write_text(nid + "\n")
    return nid


class Heartbeat:
    """The node record and the heartbeat key bound to a `KeptLease`.

    `register()` writes both (the node record with a compare: the API's drain and
    eligibility and the liveness controller write it too), `start()` keeps the lease alive.
    A lost lease is replaced by re-registering, retried until it works or `stop()`."""

    def __init__(self, store: Store, node: Node, *, ttl: int = 10) -> None:
        self.store = store
        self.node = node
        self.ttl = max(2, ttl)
        self.lease: KeptLease | None = None
        self._lock = threading.Lock()
        self._started = False
        self._stop = threading.Event()

    def register(self) -> None:
        """The heartbeat first, then the node record marked ready: liveness marks a ready
        node without a heartbeat down (or disconnected) `grace` seconds after its last
        change, so a heartbeat written after the record, slowly (a client just back from a
        partition, a loaded etcd), could see the node it had just marked ready marked gone
        again, with nothing left to re-register it (its lease is fine)."""
        self._beat()
        now = time.time()
        written = self.store.update(
            self.store.keys.node(self.node.id), Node, lambda prev: self._record(prev, now)
        )
        assert written is not None  # _record always returns a record
        # the agent's own copy (shared with its task runners) follows what was stored
        for f in ("create_time", "modify_time", "eligibility", "drain"):
            setattr(self.node, f, getattr(written.value, f))

    def _record(self, prev: Node | None, now: float) -> Node:
        """The node record to store: what this agent fingerprinted, with what operators set
        (eligibility, drain) and the first registration time kept from the stored record."""
        if prev is None:
            return replace(self.node, create_time=self.node.create_time or now, modify_time=now)
        return replace(
            self.node,
            create_time=prev.create_time or now,
            modify_time=now,
            eligibility=prev.eligibility,
            drain=prev.drain,
        )

    def _beat(self) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            lease = self.lease
        if lease is None or lease.lost.is_set():
            # granted outside the lock: a grant to an unreachable etcd blocks for its whole
            # deadline, and `cut_off_for` (which decides `stop_on_client_after`) must not wait
            lease = KeptLease.grant(self.store, self.ttl, name=f"heartbeat:{self.node.id[:8]}")
            with self._lock:
                if self._stop.is_set():
                    return  # never kept alive: it runs out by itself
                self.lease = lease
                if self._started:
                    lease.start(on_lost=self._lease_lost)
        self.store.put(
            self.store.keys.heartbeat(self.node.id),
            NodeHeartbeat(node_id=self.node.id, time=time.time(), ttl=self.ttl),
            lease=lease.id,
        )

    def cut_off_for(self) -> float:
        """Seconds since this node's heartbeat lease ran out unrefreshed (0 while it holds,
        and again once re-registered): how long the cluster has counted the node as gone."""
        with self._lock:
            lease = self.lease
        if lease is None or lease.remaining() > 0:
            return 0.0
        return max(0.0, time.monotonic() - (lease.refreshed_at + lease.ttl))

    def start(self) -> None:
        with self._lock:
            self._started = True
            if self.lease is not None:
                self.lease.start(on_lost=self._lease_lost)

    def _lease_lost(self) -> None:
        """Runs on the lost lease's thread: register again (a new lease, the heartbeat key,
        the node marked ready) until it works or the agent stops."""
        log.warning("node=%s heartbeat lease lost; re-registering", self.node.id)
        while not self._stop.is_set():
            try:
                self.register()
                return
            except StoreError as exc:
                log.warning("node=%s re-register failed: %s", self.node.id, exc)
                self._stop.wait(min(1.0, self.ttl / 3))

    def stop(self, *, revoke: bool = False) -> None:
        """Stop refreshing; without `revoke` the heartbeat expires after the TTL, as if the
        agent had died (what an agent restart relies on)."""
        self._stop.set()
        with self._lock:
            lease = self.lease
        if lease is not None:
            lease.stop(revoke=revoke)
