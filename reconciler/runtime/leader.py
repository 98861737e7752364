"""Leader election through etcd: the leader key exists only while its holder's lease lives.

`LeaderElector.run(on_started, on_stopped)` campaigns until stopped: it creates
`leader/<name>` bound to its lease if absent (a transaction), keeps the lease alive, and
calls `on_started` when it wins and `on_stopped` at once when it loses the lease (a refresh
fails or the key is no longer ours). Losers poll until the key is gone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from reconciler.runtime.controller import Controller
from reconciler.store import Store, StoreError

log = logging.getLogger(__name__)


class LeaderElector:
    def __init__(self, store: Store, name: str, identity: str, *, ttl: int = 10) -> None:
        self.store = store
        self.name = name
        self.identity = identity
        self.ttl = ttl
        self.key = store.keys.leader(name)
        self._stop = threading.Event()
        self.is_leader = threading.Event()
        self._thread: threading.Thread | None = None
        self.lease_id: int | None = None  # the lease of the current campaign
        self.campaigns = 0  # attempts to take the key (tests and metrics)

    def leader(self) -> str | None:
        cur = self.store.get_raw(self.key)
        return cur.value.decode() if cur else None

    def start(self, on_started: Callable[[], None], on_stopped: Callable[[], None]) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(on_started, on_stopped), name=f"leader:{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.ttl + 5)

    def run(self, on_started: Callable[[], None], on_stopped: Callable[[], None]) -> None:
        while not self._stop.is_set():
            try:
                lease = self.store.lease(self.ttl)
            except StoreError as exc:
                log.warning("election=%s cannot get lease: %s", self.name, exc)
                self._stop.wait(1)
                continue
            self.lease_id = lease.id
            self.campaigns += 1
            try:
                if not self.store.create(self.key, self.identity, lease=lease.id):
                    lease.revoke()
                    self._stop.wait(min(1.0, self.ttl / 3))
                    continue
                log.info("election=%s identity=%s became leader", self.name, self.identity)
                self.is_leader.set()
                on_started()
                # The lease was granted before the create, so it is good for at most `ttl`
                # from here; each successful refresh extends that from the moment it was
                # sent. Retrying past that deadline would keep a leader that etcd has
                # already dropped (and may have replaced): two leaders.
                valid_until = time.monotonic() + self.ttl
                while not self._stop.wait(self.ttl / 3):
                    sent = time.monotonic()
                    left = valid_until - sent
                    if left <= 0:
                        raise StoreError("lease not refreshed within its TTL")
                    lease.refresh(retry_for=left)
                    valid_until = sent + self.ttl
                    holder = self.store.get_raw(self.key, retry_for=max(0.0, valid_until - time.monotonic()))
                    if holder is None or holder.value.decode() != self.identity:
                        raise StoreError("leader key no longer ours")
            except StoreError as exc:
                log.warning("election=%s identity=%s lost leadership: %s", self.name, self.identity, exc)
            finally:
                if self.is_leader.is_set():
                    self.is_leader.clear()
                    on_stopped()
                    lease.revoke(retry_for=1.0)


class LeaderElected:
    """Runs a controller only while this process holds `leader/<name>`.

    A fresh controller is built by `factory` for every term (a stopped controller's queue
    and informers are not reused) and stopped at once when the lease is lost. This is how
    every cluster controller (scheduler, deployments, liveness) runs in an agent.
    """

    def __init__(
        self, store: Store, name: str, identity: str, factory: Callable[[], Controller], *, ttl: int = 10
    ) -> None:
        self.elector = LeaderElector(store, name, identity, ttl=ttl)
        self.factory = factory
        self.controller: Controller | None = None
        self._lock = threading.Lock()

    def _started(self) -> None:
        with self._lock:
            self.controller = self.factory()
            self.controller.start()

    def _stopped(self) -> None:
        with self._lock:
            if self.controller is not None:
                self.controller.stop()
                self.controller = None

    def start(self) -> None:
        self.elector.start(self._started, self._stopped)

    def stop(self) -> None:
        self.elector.stop()
        self._stopped()
