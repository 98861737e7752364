"""Writes allocation statuses to etcd, coalescing bursts: runners mark themselves dirty,
one thread takes every dirty runner's snapshot and writes them batched (put_many). So a
hundred tasks starting at once cost a few transactions, not hundreds of puts."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from reconciler.model.objects import AllocStatus
from reconciler.store import Store, StoreError

log = logging.getLogger(__name__)


class Snapshotter(Protocol):
    @property
    def id(self) -> str: ...

    def snapshot(self) -> AllocStatus: ...


class StatusWriter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cond = threading.Condition()
        self._dirty: dict[str, Snapshotter] = {}
        self._busy = False
        self._stop = False
        self._thread: threading.Thread | None = None

    def mark(self, runner: Snapshotter) -> None:
        with self._cond:
            self._dirty[runner.id] = runner
            self._cond.notify_all()

    def forget(self, alloc_id: str) -> None:
        """Drop a pending write (the allocation is being deleted)."""
        with self._cond:
            self._dirty.pop(alloc_id, None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="alloc-status-writer", daemon=True)
        self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything marked so far has been written."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._dirty and not self._busy, timeout)

    def stop(self) -> None:
        self.flush(5)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._dirty or self._stop)
                if self._stop and not self._dirty:
                    return
                batch, self._dirty = self._dirty, {}
                self._busy = True
            try:
                items = [(self.store.keys.alloc_status(aid), r.snapshot()) for aid, r in batch.items()]
                self.store.put_many(items)
            except StoreError as exc:
                log.warning("alloc status write failed (%s); retrying", exc)
                with self._cond:
                    for aid, r in batch.items():
                        self._dirty.setdefault(aid, r)
                    self._cond.wait(0.5)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
