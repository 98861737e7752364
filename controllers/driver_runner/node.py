"""Node registration and liveness: the node record (written once at start and on changes)
and the heartbeat key bound to a lease that the agent refreshes every TTL/3. If the agent
dies, the lease expires and the heartbeat key vanishes: that is how the cluster learns.
A lost lease (etcd restarted, long pause) is replaced by a new one."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from reconciler.model.ids import is_valid_name, new_id
from reconciler.model.objects import Node, NodeHeartbeat
from reconciler.store import Lease, Store, StoreError

log = logging.getLogger(__name__)


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
    def __init__(self, store: Store, node: Node, *, ttl: int = 10) -> None:
        self.store = store
        self.node = node
        self.ttl = max(2, ttl)
        self.lease: Lease | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self) -> None:
        self.node.modify_time = time.time()
        if not self.node.create_time:
            prev = self.store.get(self.store.keys.node(self.node.id), Node)
            self.node.create_time = prev.value.create_time if prev else self.node.modify_time
            if prev is not None:
                # keep what operators set (eligibility, drain) across agent restarts
                self.node.eligibility = prev.value.eligibility
                self.node.drain = prev.value.drain
        self.store.put(self.store.keys.node(self.node.id), self.node)
        self._beat()

    def _beat(self) -> None:
        if self.lease is None:
            self.lease = self.store.lease(self.ttl)
        self.store.put(self.store.keys.heartbeat(self.node.id),
                       NodeHeartbeat(node_id=self.node.id, time=time.time(), ttl=self.ttl), lease=self.lease.id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat:{self.node.id[:8]}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                assert self.lease is not None
                self.lease.refresh()
                if not self.lease.alive():
                    raise StoreError("lease expired")
            except (StoreError, AssertionError) as exc:
                log.warning("node=%s heartbeat lease lost (%s); re-registering", self.node.id, exc)
                self.lease = None
                try:
                    self.register()
                except StoreError as exc2:
                    log.warning("node=%s re-register failed: %s", self.node.id, exc2)

    def stop(self, *, revoke: bool = False) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if revoke and self.lease is not None:
            self.lease.revoke()
