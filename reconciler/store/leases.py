"""Leases: keys bound to a lease vanish when it expires or is revoked.

`Lease` is a granted lease (refresh, revoke, alive). `KeptLease` is a lease that keeps
itself alive on its own daemon thread: the one keepalive loop of the project, used by
leader election, the node heartbeat and the registrar.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from reconciler.store.errors import NotFound, StoreError

if TYPE_CHECKING:
    from reconciler.store.client import Store

log = logging.getLogger(__name__)


class Lease:
    """A granted lease. Its keys vanish when it expires (no refresh within `ttl`) or is revoked."""

    def __init__(self, store: Store, lease_id: int, ttl: int) -> None:
        self._store = store
        self.id = lease_id
        self.ttl = ttl

    def refresh(self, *, retry_for: float | None = None) -> None:
        """Keep the lease alive; StoreError if it has already expired or been revoked.
        `retry_for` bounds the retries (a holder should not retry past the lease's TTL).

        (etcd3's `refresh_lease` is a generator: it must be consumed for the keep-alive to
        be sent at all, and a lease that no longer exists answers with TTL 0.)"""
        responses = self._store._call(
            lambda c: list(c.refresh_lease(self.id)), op="lease", retry_for=retry_for
        )
        if not responses or int(responses[0].TTL) <= 0:
            raise StoreError(f"lease {self.id:x} has expired or was revoked")

    def revoke(self, *, retry_for: float | None = None) -> bool:
        """Revoke the lease (its keys vanish); False if etcd could not be told. Failures are
        logged, not raised: a lease that cannot be revoked expires anyway (though etcd gives
        every lease its full TTL again when it restarts)."""
        try:
            self._store._call(lambda c: c.revoke_lease(self.id), op="lease", retry_for=retry_for)
        except NotFound:
            return True  # expired or revoked already
        except StoreError as exc:
            log.warning("lease=%x revoke failed: %s", self.id, exc)
            return False
        return True

    def alive(self) -> bool:
        info = self._store._call(lambda c: c.get_lease_info(self.id), op="lease")
        return int(info.TTL) > 0


class KeptLease(Lease):
    """A lease refreshed every `ttl/3` by its own daemon thread until `stop()`.

    The lease is good for `ttl` from the moment its last successful refresh (or its grant)
    was sent, and a refresh is never retried past that moment: a holder that went on
    believing in a lease etcd has dropped would, for one, be a second leader. When the lease
    is lost (that moment passed, or etcd answered that it is gone), `lost` is set, `on_lost`
    runs once on the keepalive thread, and the thread ends. One KeptLease is one lease: a
    holder that wants a new one grants a new KeptLease.
    """

    def __init__(self, store: Store, lease_id: int, ttl: int, *, name: str, valid_until: float) -> None:
        super().__init__(store, lease_id, ttl)
        self.name = name
        self.lost = threading.Event()
        self._valid_until = valid_until
        self.refreshed_at = valid_until - ttl  # monotonic time the last good refresh (or the grant) was sent
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_lost: Callable[[], None] | None = None

    @classmethod
    def grant(cls, store: Store, ttl: int, *, name: str) -> KeptLease:
        """Grant a lease of `ttl` seconds for the holder `name` (used in log lines); call
        `start` to keep it alive."""
        sent = time.monotonic()
        lease = store.lease(ttl)
        return cls(store, lease.id, ttl, name=name, valid_until=sent + ttl)

    def start(self, on_lost: Callable[[], None] | None = None) -> KeptLease:
        self._on_lost = on_lost
        self._thread = threading.Thread(target=self._run, name=f"lease:{self.name}", daemon=True)
        self._thread.start()
        return self

    def remaining(self) -> float:
        """Seconds the lease is still good for at the least (0: it may have expired)."""
        return max(0.0, self._valid_until - time.monotonic())

    def stop(self, *, revoke: bool = True) -> bool:
        """Stop refreshing; with `revoke`, also revoke the lease so that its keys vanish now
        rather than after the TTL (retried for at most the TTL). False if a revoke was asked
        for and etcd could not be told (a holder may try `revoke` again later)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(self.ttl + self._store.timeout + 1)
        if revoke:
            return self.revoke(retry_for=float(self.ttl))
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            sent = time.monotonic()
            left = self._valid_until - sent
            try:
                if left <= 0:
                    raise StoreError("not refreshed within its TTL")
                self.refresh(retry_for=left)
            except StoreError as exc:
                if self._stop.is_set():
                    return
                log.warning("lease=%x holder=%s lost: %s", self.id, self.name, exc)
                self.lost.set()
                self._lost()
                return
            self._valid_until = sent + self.ttl
            self.refreshed_at = sent

    def _lost(self) -> None:
        if self._on_lost is None:
            return
        try:
            self._on_lost()
        except Exception:
            log.exception("lease=%x holder=%s on_lost callback failed", self.id, self.name)
