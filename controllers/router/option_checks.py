"""Bad route options where people look for a service's problems: a check named
"router: route options" under the instance's `checks/<alloc>/`, beside its own checks, whose
output lists what the router could not use in its `urlprefix-` tags. The Consul face and
`/v1/client/allocation/<id>/checks` show it; it is not one of the service's checks, so it
never decides health, and it says `passing`: a typo in a tag must not take instances out of
any balancer reading the catalog (the route itself still works without the bad option).

`wanted` is pure; `OptionChecks.sync` writes the difference with what the catalog holds,
bound to a lease of its own (granted on the first problem, so most routers never write), so
the entries of a router that dies go with it. Several routers write the same entries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from controllers.router.tags import parse_tag
from reconciler.model.services import (
    ROUTE_OPTIONS_CHECK,
    CheckState,
    CheckStatus,
    ServiceRegistration,
    route_options_check_id,
)
from reconciler.runtime import Informer
from reconciler.store import KeptLease, Store


def problems(reg: ServiceRegistration) -> list[str]:
    """What the router cannot use in the registration's tags, in tag order."""
    out: list[str] = []
    for tag in reg.tags:
        spec = parse_tag(tag)
        if spec is not None:
            out += [f"{tag!r}: {e}" for e in spec.errors]
    return out


def wanted(store: Store, regs: Iterable[ServiceRegistration]) -> dict[str, CheckStatus]:
    """check key -> the status the router reports for every registration with a problem."""
    out: dict[str, CheckStatus] = {}
    for reg in regs:
        found = problems(reg)
        if found:
            cid = route_options_check_id(reg.service_name)
            out[store.keys.check(reg.alloc_id, cid)] = CheckStatus(
                alloc_id=reg.alloc_id,
                check_id=cid,
                check_name=ROUTE_OPTIONS_CHECK,
                service_name=reg.service_name,
                status=CheckState.PASSING,
                output="route options ignored: " + "; ".join(found),
            )
    return out


class OptionChecks:
    def __init__(self, store: Store, checks: Informer[CheckStatus]) -> None:
        self.store = store
        self.checks = checks
        self._lease: KeptLease | None = None
        self._lock = threading.Lock()

    def sync(self, regs: Iterable[ServiceRegistration]) -> None:
        want = wanted(self.store, regs)
        have = {v.key: v.value for v in self.checks.items() if v.value.check_name == ROUTE_OPTIONS_CHECK}
        for key, st in want.items():
            cur = have.get(key)
            if cur is None or (cur.status, cur.output) != (st.status, st.output):
                st.time = time.time()
                self.store.put(key, st, lease=self._lease_id())
        for key in set(have) - set(want):
            self.store.delete(key)

    def _lease_id(self) -> int:
        with self._lock:
            if self._lease is None or self._lease.lost.is_set():
                self._lease = KeptLease.grant(self.store, 10, name="router-option-checks")
                self._lease.start()
            return self._lease.id

    def stop(self) -> None:
        with self._lock:
            lease, self._lease = self._lease, None
        if lease is not None:
            lease.stop(revoke=True)
