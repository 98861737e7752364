"""An informer: a local, watched cache of every object under one key prefix.

It lists the prefix, then watches from the listing's revision + 1. Handlers (usually "put
the key on a work queue") are called for every change with (key, old, new). A broken watch
stream is re-opened from the last revision seen, so no event is missed across an etcd
restart; a compaction triggers a re-list whose differences are delivered as events.
Cached objects are shared: never modify one, copy it.
"""

from __future__ import annotations

import builtins
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from reconciler import codec
from reconciler.store import Compacted, Store, StoreError, Versioned, WatchEvent
from reconciler.store.client import Watch

log = logging.getLogger(__name__)

T = TypeVar("T")
Handler = Callable[[str, T | None, T | None], None]
IndexFn = Callable[[T], list[str]]


class Informer(Generic[T]):
    def __init__(self, store: Store, prefix: str, typ: type[T], *, name: str = "") -> None:
        self.store = store
        self.prefix = prefix
        self.typ = typ
        self.name = name or prefix
        self._lock = threading.RLock()
        self._cache: dict[str, Versioned[T]] = {}
        self._indexers: dict[str, IndexFn[T]] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        self._handlers: list[Handler[T]] = []
        self._revision = 0
        self._synced = threading.Event()
        self._stopped = threading.Event()
        self._watch: Watch | None = None
        self._rewatch = threading.Event()
        self._thread: threading.Thread | None = None

    # configuration -----------------------------------------------------------------------
    def add_handler(self, handler: Handler[T]) -> None:
        self._handlers.append(handler)

    def add_index(self, name: str, fn: IndexFn[T]) -> None:
        with self._lock:
            self._indexers[name] = fn
            idx: dict[str, set[str]] = {}
            for key, item in self._cache.items():
                for v in fn(item.value):
                    idx.setdefault(v, set()).add(key)
            self._indexes[name] = idx

    # reads -------------------------------------------------------------------------------
    def get(self, key: str) -> T | None:
        with self._lock:
            item = self._cache.get(key)
            return item.value if item else None

    def get_versioned(self, key: str) -> Versioned[T] | None:
        with self._lock:
            return self._cache.get(key)

    def list(self) -> list[T]:
        with self._lock:
            return [v.value for v in self._cache.values()]

    def items(self) -> builtins.list[Versioned[T]]:
        with self._lock:
            return list(self._cache.values())

    def by_index(self, name: str, value: str) -> builtins.list[T]:
        with self._lock:
            keys = self._indexes[name].get(value, ())
            return [self._cache[k].value for k in keys]

    def keys_by_index(self, name: str, value: str) -> builtins.list[str]:
        with self._lock:
            return list(self._indexes[name].get(value, ()))

    @property
    def revision(self) -> int:
        return self._revision

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"informer:{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._rewatch.set()
        if self._watch is not None:
            self._watch.cancel()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        delay = 0.05
        need_list = True
        while not self._stopped.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                self._rewatch.clear()
                self._watch = self.store.watch(self.prefix, self._revision + 1, self._on_watch)
                self._synced.set()
                delay = 0.05
                self._rewatch.wait()
                self._watch.cancel()
                self._watch = None
                if self._pending_error is not None:
                    err, self._pending_error = self._pending_error, None
                    if isinstance(err, Compacted):
                        log.info("informer=%s compacted at %d; re-listing", self.name, err.revision)
                        need_list = True
            except StoreError as exc:
                log.warning("informer=%s error=%s; retrying in %.2fs", self.name, exc, delay)
                self._stopped.wait(delay)
                delay = min(delay * 2, 2.0)

    _pending_error: StoreError | None = None

    def _on_watch(self, result: builtins.list[WatchEvent] | StoreError) -> None:
        if isinstance(result, StoreError):
            self._pending_error = result
            self._rewatch.set()
            return
        for ev in result:
            self._apply(ev)
        # advertise the revision only once every event of the batch is in the cache: a
        # reader waiting for revision R must see all of a transaction's writes, not some
        with self._lock:
            self._revision = max(self._revision, max(ev.mod_revision for ev in result))

    def _relist(self) -> None:
        raw, rev = self.store.list_raw(self.prefix)
        fresh = {i.key: Versioned(i.key, codec.decode(i.value, self.typ), i.mod_revision, i.create_revision) for i in raw}
        with self._lock:
            old = self._cache
            changes: builtins.list[tuple[str, T | None, T | None]] = []
            for key, item in fresh.items():
                prev = old.get(key)
                if prev is None or prev.mod_revision != item.mod_revision:
                    changes.append((key, prev.value if prev else None, item.value))
            for key, prev in old.items():
                if key not in fresh:
                    changes.append((key, prev.value, None))
            self._cache = fresh
            self._revision = rev
            self._rebuild_indexes()
        for key, o, n in changes:
            self._notify(key, o, n)

    def _rebuild_indexes(self) -> None:
        for name, fn in self._indexers.items():
            idx: dict[str, set[str]] = {}
            for key, item in self._cache.items():
                for v in fn(item.value):
                    idx.setdefault(v, set()).add(key)
            self._indexes[name] = idx

    def _index_remove(self, key: str, value: T) -> None:
        for name, fn in self._indexers.items():
            for v in fn(value):
                s = self._indexes[name].get(v)
                if s is not None:
                    s.discard(key)
                    if not s:
                        del self._indexes[name][v]

    def _index_add(self, key: str, value: T) -> None:
        for name, fn in self._indexers.items():
            for v in fn(value):
                self._indexes[name].setdefault(v, set()).add(key)

    def _apply(self, ev: WatchEvent) -> None:
        with self._lock:
            if ev.mod_revision <= self._revision and ev.type == "put":
                cur = self._cache.get(ev.key)
                if cur is not None and cur.mod_revision >= ev.mod_revision:
                    return
            prev = self._cache.get(ev.key)
            new: T | None = None
            if ev.type == "put" and ev.value is not None:
                try:
                    new = codec.decode(ev.value, self.typ)
                except codec.CodecError as exc:
                    log.error("informer=%s key=%s undecodable value: %s", self.name, ev.key, exc)
                    return
                if prev is not None:
                    self._index_remove(ev.key, prev.value)
                self._cache[ev.key] = Versioned(ev.key, new, ev.mod_revision)
                self._index_add(ev.key, new)
            else:
                if prev is None:
                    return
                self._index_remove(ev.key, prev.value)
                del self._cache[ev.key]
        self._notify(ev.key, prev.value if prev else None, new)

    def _notify(self, key: str, old: T | None, new: T | None) -> None:
        for h in self._handlers:
            try:
                h(key, old, new)
            except Exception:  # noqa: BLE001 - a handler must not kill the watch thread
                log.exception("informer=%s key=%s handler failed", self.name, key)
