"""The API's read side: informers on the key kinds its endpoints read, shared by the Nomad
and the Consul faces.

Reads are served from these caches, not from etcd per request, so a list endpoint costs a
dictionary walk and a thousand blocked clients cost no etcd traffic. Each kind is a
`Table`: an informer whose index is the revision of the last change it applied (it only
grows), plus the revision of the last change of each *scope* (a job's allocations, a
node's, a service's registrations), so that a client blocked on one job's allocations is
answered when one of them changes, not on every change anywhere. A scope nothing has
touched yet reports the table's index: that is never below a scope's, so an index only
grows however the scope comes and goes.

Consistency: a read that does not block first waits until each cache reflects every
change this process made to its kind (`Store.written_revision`), so a client reads its own
writes through this agent (and a test its writes to the store it shares with the API).
Writes by other processes show up as fast as the watch delivers them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from reconciler.api.blocking import Changes
from reconciler.model.kv import KVEntry
from reconciler.model.namespaces import Namespace
from reconciler.model.objects import Allocation, AllocStatus, Deployment, Evaluation, JobRecord, Node
from reconciler.model.services import CheckStatus, ServiceRegistration
from reconciler.runtime import Informer
from reconciler.runtime.leader import LeaderRecord
from reconciler.store import Store, StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
ScopeFn = Callable[[T], list[str]]

# how long a read waits for the caches to reflect this process's own writes
FENCE_WAIT = 2.0
LEADER = "scheduler"  # the controller whose leader is the cluster's leader


def job_scope(namespace: str, job_id: str) -> str:
    return f"{namespace}/{job_id}"


class Table(Generic[T]):
    """An informer and the revision of the last change of each value of its scopes.

    `indexed` scopes are also informer indexes (`by_index`); their revisions are forgotten
    once no object has the value. Others (`scopes` only) are kept: their functions may look
    at other tables, which an informer index must not."""

    def __init__(
        self,
        informer: Informer[T],
        *,
        indexed: Mapping[str, ScopeFn[T]] | None = None,
        scopes: Mapping[str, ScopeFn[T]] | None = None,
    ) -> None:
        self.informer = informer
        self._indexed = dict(indexed or {})
        self._scopes = {**self._indexed, **(scopes or {})}
        self._revs: dict[str, dict[str, int]] = {name: {} for name in self._scopes}
        self._lock = threading.Lock()
        for name, fn in self._indexed.items():
            informer.add_index(name, fn)
        informer.add_handler(self._changed)

    def _changed(self, key: str, old: T | None, new: T | None) -> None:
        rev = self.informer.revision  # already the revision of this change's batch
        with self._lock:
            for name, fn in self._scopes.items():
                values = set(fn(old) if old is not None else ()) | set(fn(new) if new is not None else ())
                revs = self._revs[name]
                for v in values:
                    if new is None and name in self._indexed and not self.informer.keys_by_index(name, v):
                        revs.pop(v, None)  # the table's index stands in for it from now on
                    else:
                        revs[v] = rev

    @property
    def index(self) -> int:
        return self.informer.revision

    def scope_index(self, scope: str, value: str) -> int:
        with self._lock:
            rev = self._revs[scope].get(value)
        return rev if rev is not None else self.informer.revision

    def key_index(self, key: str) -> int:
        """The mod revision of one object, or the table's index when it is absent."""
        got = self.informer.get_versioned(key)
        return got.mod_revision if got is not None else self.informer.revision

    def get(self, key: str) -> T | None:
        return self.informer.get(key)

    def items(self) -> list[T]:
        return self.informer.list()

    def by_index(self, name: str, value: str) -> list[T]:
        return self.informer.by_index(name, value)


class WatchedState:
    """Every table the API reads, the leader record, and one waker for them all."""

    def __init__(self, store: Store, *, name: str = "api") -> None:
        keys = store.keys
        self.store = store
        self.changes = Changes()

        def inf(prefix: str, typ: type[Any], kind: str) -> Informer[Any]:
            return Informer(store, prefix, typ, name=f"{name}:{kind}")

        self.nodes: Informer[Node] = inf(keys.nodes, Node, "nodes")
        self.services: Informer[ServiceRegistration] = inf(keys.services, ServiceRegistration, "services")
        self.checks: Informer[CheckStatus] = inf(keys.checks, CheckStatus, "checks")
        self.kv: Informer[KVEntry] = inf(keys.kv_entries, KVEntry, "kv")
        self.leaders: Informer[LeaderRecord] = inf(keys.kind("leader"), LeaderRecord, "leader")
        self.jobs = Table[JobRecord](inf(keys.jobs, JobRecord, "jobs"))
        self.versions = Table[JobRecord](
            inf(keys.job_versions_all, JobRecord, "versions"),
            indexed={"job": lambda r: [job_scope(r.namespace, r.id)]},
        )
        self.evals = Table[Evaluation](
            inf(keys.evals, Evaluation, "evals"),
            indexed={"job": lambda e: [job_scope(e.namespace, e.job_id)]},
        )
        self.allocs = Table[Allocation](
            inf(keys.allocs, Allocation, "allocs"),
            indexed={
                "job": lambda a: [job_scope(a.namespace, a.job_id)],
                "node": lambda a: [a.node_id],
                "deployment": lambda a: [a.deployment_id] if a.deployment_id else [],
            },
        )
        self.statuses = Table[AllocStatus](
            inf(keys.alloc_statuses, AllocStatus, "statuses"), scopes=self._status_scopes()
        )
        self.deployments = Table[Deployment](
            inf(keys.deployments, Deployment, "deployments"),
            indexed={"job": lambda d: [job_scope(d.namespace, d.job_id)]},
        )
        self.node_table = Table[Node](self.nodes)
        self.namespaces = Table[Namespace](inf(keys.namespaces, Namespace, "namespaces"))
        self.service_table = Table[ServiceRegistration](
            self.services, indexed={"name": lambda r: [r.service_name], "node": lambda r: [r.node_id]}
        )
        self.check_table = Table[CheckStatus](self.checks, indexed={"alloc": lambda c: [c.alloc_id]})
        self.nodes.add_index("name", lambda n: [n.name])
        self._leader_lost_at: float | None = time.monotonic()
        self.leaders.add_handler(self._leader_changed)
        for i in self._informers:
            i.add_handler(self._changed)

    def _status_scopes(self) -> dict[str, ScopeFn[AllocStatus]]:
        """A status belongs to its allocation's job, node and deployment (looked up in the
        allocation table; a status whose allocation is not cached yet changes no answer)."""

        def alloc_of(s: AllocStatus) -> Allocation | None:
            return self.allocs.get(self.store.keys.alloc(s.alloc_id))

        def job(s: AllocStatus) -> list[str]:
            a = alloc_of(s)
            return [job_scope(a.namespace, a.job_id)] if a else []

        def deployment(s: AllocStatus) -> list[str]:
            a = alloc_of(s)
            return [a.deployment_id] if a and a.deployment_id else []

        return {"job": job, "node": lambda s: [s.node_id], "deployment": deployment}

    @property
    def _informers(self) -> list[Informer[Any]]:
        tables: list[Table[Any]] = [self.jobs, self.versions, self.evals, self.allocs]
        tables += [self.statuses, self.deployments, self.namespaces]
        plain: list[Informer[Any]] = [self.nodes, self.services, self.checks, self.kv, self.leaders]
        return [*plain, *(t.informer for t in tables)]

    def _changed(self, key: str, old: object, new: object) -> None:
        self.changes.notify()

    def _leader_changed(self, key: str, old: LeaderRecord | None, new: LeaderRecord | None) -> None:
        if key == self.store.keys.leader(LEADER):
            self._leader_lost_at = None if new is not None else time.monotonic()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop whose coroutines wait on these caches (the API server's)."""
        self.changes.bind(loop)

    def start(self, timeout: float = 30.0) -> None:
        for i in self._informers:
            i.start()
        for i in self._informers:
            if not i.wait_synced(timeout):
                raise StoreError(f"cache {i.name} did not sync within {timeout:.0f}s")

    def stop(self) -> None:
        """Stop every informer at once (each cancels its watch and joins its thread)."""
        with ThreadPoolExecutor(len(self._informers), thread_name_prefix="watched-stop") as pool:
            list(pool.map(lambda i: i.stop(), self._informers))

    # table indexes (etcd revisions): what X-Consul-Index / X-Nomad-Index report
    def index_of(self, *tables: Informer[Any]) -> int:
        return max((t.revision for t in tables), default=0) or 1

    def progress(self) -> int:
        """The newest revision the caches have applied."""
        return max(i.revision for i in self._informers)

    def _behind(self) -> list[Informer[Any]]:
        return [i for i in self._informers if i.revision < self.store.written_revision(i.prefix)]

    async def fence(self, timeout: float = FENCE_WAIT) -> None:
        """Wait until the caches reflect every change this process made."""
        if not self._behind():
            return
        if not await self.changes.wait_until(lambda: not self._behind(), timeout):
            late = ", ".join(f"{i.name}@{i.revision}" for i in self._behind())
            log.warning("api caches behind this agent's writes after %.1fs: %s", timeout, late)

    def leader(self) -> tuple[bool, int]:
        """(a leader is known, milliseconds since one was last known: 0 while one is)."""
        lost = self._leader_lost_at
        if lost is None:
            return True, 0
        return False, int((time.monotonic() - lost) * 1000)
