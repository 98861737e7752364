"""Committing a plan: allocations in batched transactions, guarded against double placement.

Every scheduler write for a job compares (a) the job record's mod revision, so a plan made
for an older job version is never applied, and (b) the job's guard key
`sched_guard/<ns>/<job>`, which each transaction that writes allocations bumps. Two replicas
(or an old and a new leader) therefore cannot both apply plans made from the same state: the
second one's first transaction fails, it re-reads (after its cache caught up with the guard's
revision) and decides again. A plan too large for one transaction is split into batches
chained on the guard revision the previous batch left (the revision the transaction was
applied at), so anyone else's write in between makes our next batch fail and we stop.

`PipelinedWriter` commits batches from a thread while the placer is still choosing nodes for
the next ones (etcd's work and the network wait overlap the scheduling work).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import codec
from reconciler.model.ids import new_id
from reconciler.store import MAX_TXN_OPS, Store, Txn

log = logging.getLogger(__name__)

PER_TXN = MAX_TXN_OPS - 3  # two compares and the guard put


def guard_key(store: Store, namespace: str, job_id: str) -> str:
    return store.keys.sched_guard(namespace, job_id)


@dataclass
class Guard:
    key: str
    revision: int  # 0: absent
    job_key: str
    job_revision: int  # 0: the job record must be absent


class GuardedChain:
    """Guarded transactions, each chained on the guard revision the previous one left."""

    def __init__(self, store: Store, guard: Guard) -> None:
        self.store = store
        self.guard = guard
        self.token = new_id()
        self.seq = 0

    def _txn(self) -> Txn:
        return (
            Txn()
            .compare_mod(self.guard.job_key, self.guard.job_revision)
            .compare_mod(self.guard.key, self.guard.revision)
        )

    def commit(self, items: Sequence[tuple[str, bytes]]) -> bool:
        """One batch of allocation writes (at most PER_TXN) that bumps the guard."""
        txn = self._txn()
        for k, v in items:
            txn.put(k, v)
        self.seq += 1
        mark = f"{self.token}:{self.seq}"
        txn.put(self.guard.key, mark)
        rev = self.store.commit_revision(txn)
        if rev is None:
            log.info("job=%s plan lost a race at batch %d; re-reading", self.guard.job_key, self.seq)
            return False
        self.guard.revision = rev  # the guard was put by this transaction: its mod revision
        return True

    def commit_tail(self, items: Sequence[tuple[str, bytes]]) -> bool:
        """Evaluation writes: guarded, but not bumping the guard (no allocation changed)."""
        for j in range(0, len(items), MAX_TXN_OPS - 2):
            txn = self._txn()
            for k, v in items[j : j + MAX_TXN_OPS - 2]:
                txn.put(k, v)
            if not self.store.commit(txn):
                return False
        return True

    def commit_all(self, allocs: Sequence[tuple[str, bytes]], tail: Sequence[tuple[str, bytes]]) -> bool:
        """Allocation batches, with the evaluations riding on the last one when they fit."""
        i = 0
        while i < len(allocs):
            chunk = list(allocs[i : i + PER_TXN])
            i += len(chunk)
            if i >= len(allocs) and len(chunk) + len(tail) <= PER_TXN:
                return self.commit([*chunk, *tail])
            if not self.commit(chunk):
                return False
        return self.commit_tail(tail)


def _encode(items: Sequence[tuple[str, Any]]) -> list[tuple[str, bytes]]:
    return [(k, codec.encode(v)) for k, v in items]


class PipelinedWriter:
    """Feed allocations as they are placed; full batches are committed from a thread. The
    thread starts with the first full batch, so small plans cost no thread."""

    def __init__(self, store: Store, guard: Guard) -> None:
        self.chain = GuardedChain(store, guard)
        self._pending: list[tuple[str, Any]] = []
        self._queue: queue.Queue[list[tuple[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failed = threading.Event()
        self.error: Exception | None = None
        self.committed = 0

    def feed(self, items: Sequence[tuple[str, Any]]) -> None:
        self._pending.extend(items)
        while len(self._pending) >= PER_TXN:
            batch, self._pending = self._pending[:PER_TXN], self._pending[PER_TXN:]
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="scheduler-writer", daemon=True)
                self._thread.start()
            self._queue.put(batch)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self.failed.is_set():
                continue
            try:
                ok = self.chain.commit(_encode(batch))
            except Exception as exc:
                self.error = exc
                ok = False
            if ok:
                self.committed += len(batch)
            else:
                self.failed.set()

    def abort(self) -> None:
        """Stop the thread without committing what is left (the decision failed)."""
        self.failed.set()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def finish(self, more: Sequence[tuple[str, Any]], tail: Sequence[tuple[str, Any]]) -> bool:
        """Commit what is left (`more` allocation updates, then the evaluations in `tail`);
        True if every batch applied."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self.error is not None:
            raise self.error
        if self.failed.is_set():
            return False
        rest = _encode([*self._pending, *more])
        self._pending = []
        return self.chain.commit_all(rest, _encode(tail))
