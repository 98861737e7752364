"""Fencing: a leader's writes are its term's, never a later one's.

A leader can be paused (SIGSTOP, a stalled VM, a long GC) past its lease and wake up
believing it still leads; a controller of that term must not write then. `Fence` stands for
one term: the leader key and the mod revision its holder created it at, plus a local
validity test (the lease's remaining time). A store seen through `Store.fenced(fence)`
refuses every write once the fence is closed or invalid, before sending it, and adds a
compare of the leader key to every transaction it sends, so a write that was already on
its way when the term ended is refused by etcd itself (etcd applies transactions one at a
time: the key's deletion, on lease expiry, and our write are ordered).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from reconciler.store.errors import Fenced
from reconciler.store.txn import Txn

if TYPE_CHECKING:
    from reconciler.store.client import Store


class Fence:
    """One leader term: `key` at `revision`, good while `valid()` and not `close`d."""

    def __init__(self, key: str, revision: int, valid: Callable[[], bool] = lambda: True) -> None:
        self.key = key
        self.revision = revision
        self._valid = valid
        self._closed = threading.Event()

    def close(self) -> None:
        """End the term: every write through this fence is refused from now on."""
        self._closed.set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def check(self) -> None:
        """Raise `Fenced` unless the term may still write."""
        if self._closed.is_set() or not self._valid():
            self._closed.set()
            raise Fenced(f"{self.key}: the leader term of revision {self.revision} is over; write refused")

    def guard(self, txn: Txn) -> Txn:
        """`txn` plus the compare that the leader key is still this term's."""
        self.check()
        return Txn(compares=[*txn.compares, (self.key, self.revision)], puts=txn.puts, deletes=txn.deletes)

    def confirm(self, store: Store) -> None:
        """After a guarded transaction failed its compares: raise `Fenced` if the reason may
        be the leader key (then it was not a lost race the caller should retry)."""
        got = store.get_raw(self.key)
        if got is None or got.mod_revision != self.revision:
            self._closed.set()
            raise Fenced(f"{self.key}: no longer at revision {self.revision} (another term); write refused")
