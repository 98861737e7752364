"""The API's read side: informers on the key kinds its endpoints read.

Reads are served from these caches, not from etcd per request, so a list endpoint costs a
dictionary walk and a thousand blocked clients cost no etcd traffic. Each kind is a table in
Consul's sense: its index is the revision of the last change the informer applied (it only
grows), and a blocking query on a table waits for that index to pass the client's.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from reconciler.api.blocking import Changes
from reconciler.model.kv import KVEntry
from reconciler.model.objects import Node
from reconciler.model.services import CheckStatus, ServiceRegistration
from reconciler.runtime import Informer
from reconciler.store import Store, StoreError

log = logging.getLogger(__name__)


class WatchedState:
    """Informers for nodes, services, checks and KV entries, and one waker for them all."""

    def __init__(self, store: Store, *, name: str = "api") -> None:
        keys = store.keys
        self.store = store
        self.changes = Changes()
        self.nodes: Informer[Node] = Informer(store, keys.nodes, Node, name=f"{name}:nodes")
        self.services: Informer[ServiceRegistration] = Informer(
            store, keys.services, ServiceRegistration, name=f"{name}:services"
        )
        self.checks: Informer[CheckStatus] = Informer(store, keys.checks, CheckStatus, name=f"{name}:checks")
        self.kv: Informer[KVEntry] = Informer(store, keys.kv_entries, KVEntry, name=f"{name}:kv")
        self.services.add_index("name", lambda r: [r.service_name])
        self.services.add_index("node", lambda r: [r.node_id])
        self.checks.add_index("alloc", lambda c: [c.alloc_id])
        self.nodes.add_index("name", lambda n: [n.name])
        for inf in self._informers:
            inf.add_handler(self._changed)

    @property
    def _informers(self) -> list[Informer[Any]]:
        return [self.nodes, self.services, self.checks, self.kv]

    def _changed(self, key: str, old: object, new: object) -> None:
        self.changes.notify()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop whose coroutines wait on these caches (the API server's)."""
        self.changes.bind(loop)

    def start(self, timeout: float = 30.0) -> None:
        for inf in self._informers:
            inf.start()
        for inf in self._informers:
            if not inf.wait_synced(timeout):
                raise StoreError(f"cache {inf.name} did not sync within {timeout:.0f}s")

    def stop(self) -> None:
        for inf in self._informers:
            inf.stop()

    # table indexes (etcd revisions): what X-Consul-Index / X-Nomad-Index report
    def index_of(self, *tables: Informer[Any]) -> int:
        return max((t.revision for t in tables), default=0) or 1
