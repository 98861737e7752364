"""The controller loop: informers feed keys into a work queue; workers reconcile them.

Subclasses set up informers in `__init__` (through `self.informer(...)`), map changes to
the keys they reconcile (`self.enqueue`), and implement `reconcile(key)`: level-triggered,
idempotent, reading the caches and writing the result. Returning `Requeue(after)` asks to
look again later; raising retries with per-key backoff; `PermanentError` is logged and not
retried.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, TypeVar

from reconciler.metrics import QUEUES, RECONCILE_ERRORS, RECONCILE_RETRIES, RECONCILE_SECONDS
from reconciler.runtime.informer import Informer
from reconciler.runtime.workqueue import ShutDown, WorkQueue
from reconciler.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Requeue:
    after: float


class PermanentError(Exception):
    """Reconcile failed in a way retrying cannot fix (bad data); logged, not retried."""


class Controller:
    name = "controller"
    workers = 1
    resync_period: float = 0.0  # seconds; 0 = no periodic resync

    def __init__(self, store: Store) -> None:
        self.store = store
        self.keys = store.keys
        self.queue: WorkQueue[str] = self.new_queue()
        self._informers: list[Informer[Any]] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.log = logging.getLogger(f"reconciler.controller.{self.name}")

    # wiring ------------------------------------------------------------------------------
    def informer(self, prefix: str, typ: type[T], *, name: str = "") -> Informer[T]:
        inf: Informer[T] = Informer(self.store, prefix, typ, name=name or f"{self.name}:{prefix}")
        self._informers.append(inf)
        return inf

    def new_queue(self) -> WorkQueue[str]:
        """The work queue (first in, first out); a controller may order its keys otherwise."""
        return WorkQueue()

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    # to implement ------------------------------------------------------------------------
    def reconcile(self, key: str) -> Requeue | None:
        raise NotImplementedError

    def resync_keys(self) -> list[str]:
        """Keys to reconcile on each periodic resync (default: none)."""
        return []

    def on_start(self) -> None:
        """Called once the caches have synced, before workers start."""

    def on_stop(self) -> None:
        """Called after workers stopped."""

    # lifecycle ---------------------------------------------------------------------------
    def start(self, *, sync_timeout: float = 30.0) -> None:
        self._stop.clear()
        for inf in self._informers:
            inf.start()
        for inf in self._informers:
            if not inf.wait_synced(sync_timeout):
                for started in self._informers:  # leave no informer thread behind
                    started.stop()
                raise TimeoutError(
                    f"controller={self.name} informer {inf.name} did not sync in {sync_timeout}s"
                )
        self.on_start()
        QUEUES.register(self.name, self.queue)
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"{self.name}-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        if self.resync_period > 0:
            t = threading.Thread(target=self._resync_loop, name=f"{self.name}-resync", daemon=True)
            t.start()
            self._threads.append(t)
        self.log.info("controller=%s started workers=%d", self.name, self.workers)

    def stop(self) -> None:
        self._stop.set()
        self.queue.shutdown()
        for inf in self._informers:
            inf.stop()
        for t in self._threads:
            t.join(10)
        self._threads.clear()
        # a stopped controller can be started again (leadership regained)
        self.queue = self.new_queue()
        self.on_stop()

    def synced(self) -> bool:
        return all(inf.wait_synced(0) for inf in self._informers)

    def _resync_loop(self) -> None:
        while not self._stop.wait(self.resync_period):
            for key in self.resync_keys():
                self.queue.add(key)

    def _worker(self) -> None:
        queue = self.queue
        while True:
            try:
                key = queue.get()
            except ShutDown:
                return
            started = time.perf_counter()
            try:
                result = self.reconcile(key)
            except PermanentError as exc:
                RECONCILE_ERRORS.labels(self.name).inc()
                self.log.error("controller=%s key=%s permanent error: %s", self.name, key, exc)
                queue.forget(key)
            except Exception as exc:  # every failure is retried with backoff
                RECONCILE_ERRORS.labels(self.name).inc()
                RECONCILE_RETRIES.labels(self.name).inc()
                delay = queue.add_rate_limited(key)
                self.log.warning(
                    "controller=%s key=%s reconcile failed (%s: %s); retry in %.2fs",
                    self.name,
                    key,
                    type(exc).__name__,
                    exc,
                    delay,
                )
            else:
                queue.forget(key)
                if isinstance(result, Requeue):
                    queue.add_after(key, result.after)
            finally:
                RECONCILE_SECONDS.labels(self.name).observe(time.perf_counter() - started)
                queue.done(key)
