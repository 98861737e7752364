"""What one `Store` wrote, by key kind: the newest revision at which it changed a key of each
kind (`jobs`, `allocs`, ...). Caches fed by watches wait for it, so that a process reads its
own writes (`reconciler.api.watched`): a client that submits a job and lists jobs at once
sees it, though the list is served from a cache."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from reconciler.store.txn import Txn


class Written:
    """Thread-safe; shared by a Store and its views."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._by_kind: dict[str, int] = {}
        self._lock = threading.Lock()

    def _kind(self, key: str) -> str:
        return key[len(self.prefix) :].split("/", 1)[0] if key.startswith(self.prefix) else ""

    def revision(self, prefix: str) -> int:
        """The newest revision at which a key of `prefix`'s kind was changed (0: none)."""
        return self._by_kind.get(self._kind(prefix), 0)

    def record(self, keys: Iterable[str], revision: int) -> None:
        with self._lock:
            for key in keys:
                kind = self._kind(key)
                self._by_kind[kind] = max(self._by_kind.get(kind, 0), revision)

    def record_txn(self, txn: Txn, deletes: Sequence[Any], revision: int) -> None:
        """An applied transaction's puts, and those of its deletes that removed a key."""
        gone = [k for k, r in zip(txn.deletes, deletes, strict=True) if int(r.deleted)]
        if txn.puts or gone:
            self.record([k for k, _, _ in txn.puts] + gone, revision or int(deletes[0].header.revision))
