"""What the node agent knows of the service catalog: whether an allocation is still in it.

A stopping allocation must leave the catalog before its tasks get their kill signal, so
that the router drops it from its table first and no request is sent to a process that is
going away (Nomad's order: deregister, `shutdown_delay`, kill signal, `kill_timeout`,
SIGKILL). The registrar removes the registrations when it sees the allocation's desired
status change; the node agent cooperates with it only through etcd, so it watches
`services/` with an informer indexed by allocation id and waits on that cache.
"""

from __future__ import annotations

import threading

from reconciler.model.services import ServiceRegistration
from reconciler.runtime import Informer

# Longest wait for the registrar to remove a stopping allocation's services. Past it the
# kill goes ahead (a registrar that is down must not keep tasks alive); it is logged.
DEREGISTER_TIMEOUT = 10.0

# After the cache shows the allocation gone, a moment for every router's own cache to see
# the same deletion (they watch the same keys; this agent saw it first only by luck of
# scheduling) and for requests already sent to it to finish. Measured under load, a kill
# right at deregistration cut about one request per rollout mid-response.
CATALOG_GRACE = 0.25


class CatalogView:
    """The allocations this agent's informer sees registered, with a wait for their exit."""

    def __init__(self, informer: Informer[ServiceRegistration]) -> None:
        self._informer = informer
        self._changed = threading.Condition()
        informer.add_index("alloc", lambda reg: [reg.alloc_id])
        informer.add_handler(self._on_change)

    def _on_change(self, key: str, old: ServiceRegistration | None, new: ServiceRegistration | None) -> None:
        with self._changed:
            self._changed.notify_all()

    def registered(self, alloc_id: str) -> bool:
        return bool(self._informer.keys_by_index("alloc", alloc_id))

    def wait_deregistered(self, alloc_id: str, timeout: float = DEREGISTER_TIMEOUT) -> bool:
        """Block until no registration of `alloc_id` is left in the cache (True), or until
        `timeout` seconds have passed (False)."""
        with self._changed:
            return self._changed.wait_for(lambda: not self.registered(alloc_id), timeout)
