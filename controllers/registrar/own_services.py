"""The agent's own services in the catalog: its HTTP API as `reconciler` and its router as
`router`, each with an HTTP check, as Nomad and Fabio appear in Consul beside the services
they run. They show in `/v1/services`, the Consul face and the UI like any service, and a
router elsewhere could route to them by tag.

The entries are bound to one kept lease (an agent that dies takes them with it; a lost lease
is replaced and everything written again) and marked `source="self"`, so neither the
registrar nor the Consul agent API ever deletes them. Their checks run on the registrar's
check runner and probes; a status is written only when it changes.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from controllers.registrar.check_runner import CheckRunner, CheckSpec
from controllers.registrar.probes import HttpProbe
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.job import SECOND, Check
from reconciler.model.services import CheckState, CheckStatus, RegisteredCheck, ServiceRegistration
from reconciler.store import KeptLease, Store

log = logging.getLogger(__name__)
SOURCE = "self"


@dataclass(frozen=True)
class OwnService:
    """One of the agent's own endpoints: its name, where it listens, and the path its check GETs."""

    name: str
    address: str
    port: int
    check_path: str
    check_port: int = 0  # the check's port when it is not the service's (the router's admin port)
    tags: tuple[str, ...] = ()
    meta: dict[str, str] = field(default_factory=dict)


def own_registration(svc: OwnService, *, owner: str, node_id: str, datacenter: str) -> ServiceRegistration:
    """The catalog entry of one own service; `owner` (the agent's node name) keeps the
    entries of two agents on one cluster apart."""
    key = re.sub(r"[^A-Za-z0-9_.-]", "_", f"reconciler-{owner}-{svc.name}-{svc.port}")
    check = Check(name=f"{svc.name} HTTP", type="http", path=svc.check_path, interval=2 * SECOND)
    return ServiceRegistration(
        id=f"_{key}",  # as Nomad names its own (`_nomad-server-...`)
        service_name=svc.name,
        alloc_id=AllocId(key),
        namespace="default",
        job_id="",
        group="",
        task="",
        node_id=NodeId(node_id),
        datacenter=datacenter,
        address=svc.address,
        port=svc.port,
        port_label=str(svc.port),
        tags=list(svc.tags),
        meta=dict(svc.meta),
        checks=[RegisteredCheck(id=f"{svc.name}-http", check=check)],
        create_time=time.time(),
        source=SOURCE,
    )


class OwnServices:
    """A component (start/stop) keeping the agent's own services registered and checked."""

    def __init__(
        self,
        store: Store,
        services: list[OwnService],
        *,
        owner: str,
        node_id: str = "",
        datacenter: str = "dc1",
        lease_ttl: int = 10,
    ) -> None:
        self.store = store
        self.regs = [
            (svc, own_registration(svc, owner=owner, node_id=node_id, datacenter=datacenter))
            for svc in services
        ]
        self.lease_ttl = lease_ttl
        self._lease: KeptLease | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.runner: CheckRunner | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._register()
        self.runner = CheckRunner(workers=2, name="own-checks")
        for svc, reg in self.regs:
            rc = reg.checks[0]
            probe = HttpProbe(svc.address, svc.check_port or svc.port, svc.check_path, timeout=2.0)
            self.runner.set(
                self.store.keys.check(reg.alloc_id, rc.id),
                CheckSpec(probe, rc.check.interval / SECOND, on_change=self._writer(reg, rc)),
            )

    def stop(self) -> None:
        """Deregister at once (revoking the lease), so a stopped agent is gone from the catalog."""
        self._stopping.set()
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is not None:
            lease.stop(revoke=True)

    def _lease_now(self) -> KeptLease:
        with self._lock:
            if self._lease is None or self._lease.lost.is_set():
                self._lease = KeptLease.grant(self.store, self.lease_ttl, name="own-services")
                self._lease.start(on_lost=self._lost)
            return self._lease

    def _lost(self) -> None:
        log.warning("own services: lease lost; registering again")
        if not self._stopping.is_set():
            self._register()
            if self.runner is not None:
                self.runner.reannounce()

    def _register(self) -> None:
        lease = self._lease_now()
        for _, reg in self.regs:
            self.store.put(
                self.store.keys.service(reg.service_name, reg.alloc_id, reg.port_label), reg, lease=lease.id
            )
            log.info("service=%s registered %s:%d (the agent's own)", reg.service_name, reg.address, reg.port)

    def _writer(self, reg: ServiceRegistration, rc: RegisteredCheck) -> Callable[[CheckState, str], None]:
        key = self.store.keys.check(reg.alloc_id, rc.id)

        def write(status: CheckState, output: str) -> None:
            if self._stopping.is_set():
                return
            self.store.put(
                key,
                CheckStatus(
                    alloc_id=reg.alloc_id,
                    check_id=rc.id,
                    check_name=rc.check.name,
                    service_name=reg.service_name,
                    status=status,
                    output=output,
                    time=time.time(),
                ),
                lease=self._lease_now().id,
            )

        return write
