"""An informer: a local, watched cache of every object under one key prefix.

It lists the prefix, then watches from the listing's revision + 1. Handlers (usually "put
the key on a work queue") are called for every change with (key, old, new). A broken watch
stream is re-opened from the last revision seen, so no event is missed across an etcd
restart; a compaction triggers a re-list whose differences are delivered as events.
Cached objects are shared: never modify one, copy it. An `Informer[bytes]` keeps the raw
values, undecoded (for keys whose values are another component's business).
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Generic, Protocol, TypeVar

from reconciler import codec
from reconciler.store import Compacted, Store, StoreError, Versioned, Watch, WatchEvent

log = logging.getLogger(__name__)

T = TypeVar("T")

PROGRESS_ASK = 0.05  # seconds between progress requests while `wait_revision` waits
Handler = Callable[[str, T | None, T | None], None]
IndexFn = Callable[[T], list[str]]
T_contra = TypeVar("T_contra", contravariant=True)


class Aggregate(Protocol[T_contra]):
    """Something kept up to date from every change of the cache, under the informer's lock
    (so once `wait_revision(R)` returns, it reflects every event up to R, like the cache):
    a sum over the objects that a reader would otherwise recompute from `list()`. Both
    calls run on the watch thread with the lock held: keep them short, never block."""

    def reset(self, items: Mapping[str, T_contra]) -> None:
        """The cache was (re)listed: these are all the objects now."""

    def change(self, key: str, old: T_contra | None, new: T_contra | None) -> None:
        """One object was put (`new`) or deleted (`new` None)."""


class Informer(Generic[T]):
    def __init__(self, store: Store, prefix: str, typ: type[T], *, name: str = "") -> None:
        self.store = store
        self.prefix = prefix
        self.typ = typ
        self.name = name or prefix
        self._lock = threading.RLock()
        self._advanced = threading.Condition(self._lock)  # notified when `revision` moves on
        self._cache: dict[str, Versioned[T]] = {}
        self._indexers: dict[str, IndexFn[T]] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        self._handlers: list[Handler[T]] = []
        self._aggregates: list[Aggregate[T]] = []
        self._revision = 0
        self._listed_revision = 0  # revision of the last listing
        self._synced = threading.Event()
        self._stopped = threading.Event()
        self._watch: Watch | None = None
        self._rewatch = threading.Event()
        self._generation = 0
        self._pending_error: StoreError | None = None
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

    def add_aggregate(self, agg: Aggregate[T]) -> None:
        """Keep `agg` up to date with the cache from now on (see `Aggregate`)."""
        with self._lock:
            self._aggregates.append(agg)
            agg.reset({k: v.value for k, v in self._cache.items()})

    # reads -------------------------------------------------------------------------------
    def get(self, key: str) -> T | None:
        with self._lock:
            item = self._cache.get(key)
            return item.value if item else None

    def get_versioned(self, key: str) -> Versioned[T] | None:
        with self._lock:
            return self._cache.get(key)

    def list(self) -> builtins.list[T]:
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
        """The etcd revision the cache reflects in full (every event up to it applied)."""
        with self._lock:
            return self._revision

    def wait_revision(self, revision: int, timeout: float) -> bool:
        """Block until the cache reflects `revision` in full, whatever that revision wrote;
        False after `timeout` seconds or when the informer stops. While it waits it asks etcd
        for the watch's progress (`Watch.request_progress`): a revision that wrote nothing
        under this prefix is reached as soon as the watch has delivered every event before
        it, not at the prefix's next write. (Nomad's workers wait the same way for a state
        snapshot at least as new as the evaluation they work on.)"""
        deadline = time.monotonic() + timeout
        with self._advanced:
            while self._revision < revision and not self._stopped.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if self._watch is not None:
                    self._watch.request_progress()
                self._advanced.wait(min(left, PROGRESS_ASK))
            return self._revision >= revision

    def wait_synced(self, timeout: float | None = None) -> bool:
        return self._synced.wait(timeout)

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start (or restart after `stop`): list, then watch. The first listing delivers
        every object to the handlers (and, on a restart, deletes for objects gone since)."""
        if self._thread is not None and self._thread.is_alive() and not self._stopped.is_set():
            return  # already running
        with self._lock:
            self._stopped.clear()
            self._rewatch.clear()
            self._synced.clear()
        self._thread = threading.Thread(target=self._run, name=f"informer:{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            self._rewatch.set()
            self._generation += 1  # late callbacks of the current watch are ignored
            watch = self._watch
            self._advanced.notify_all()  # waiters in `wait_revision` give up
        if watch is not None:
            watch.cancel()
        if self._thread is not None:
            self._thread.join(self.store.retry_for + 5)

    def _run(self) -> None:
        delay = 0.05
        need_list = True
        first_list = True
        while not self._stopped.is_set():
            try:
                if need_list:
                    self._relist(replay=first_list)
                    need_list = first_list = False
                with self._lock:
                    # A new generation per watch: callbacks of a watch we gave up on (they can
                    # still be running on the client's watch thread) must not touch the cache.
                    self._generation += 1
                    gen = self._generation
                    self._pending_error = None
                    self._rewatch.clear()
                    if self._stopped.is_set():
                        break
                    start_rev = self._revision + 1

                def deliver(result: builtins.list[WatchEvent] | StoreError, gen: int = gen) -> None:
                    self._on_watch(gen, result)

                def progress(revision: int, gen: int = gen) -> None:
                    self._on_progress(gen, revision)

                watch = self.store.watch(self.prefix, start_rev, deliver, on_progress=progress)
                with self._lock:
                    self._watch = watch
                self._synced.set()
                self._rewatch.wait()
                watch.cancel()
                with self._lock:
                    self._watch = None
                    err = self._pending_error
                if isinstance(err, Compacted):
                    log.info("informer=%s compacted at %d; re-listing", self.name, err.revision)
                    need_list = True
                elif err is not None:
                    # the stream broke (etcd restarting): re-watch from the last revision seen
                    log.warning(
                        "informer=%s watch broke (%s); re-watching from %d", self.name, err, start_rev
                    )
                    self._stopped.wait(delay)
                    delay = min(delay * 2, 2.0)
                else:
                    delay = 0.05
            except Compacted as exc:
                log.info("informer=%s revision %d compacted; re-listing", self.name, exc.revision)
                need_list = True
            except StoreError as exc:
                log.warning("informer=%s error=%s; retrying in %.2fs", self.name, exc, delay)
                self._stopped.wait(delay)
                delay = min(delay * 2, 2.0)

    def _on_watch(self, generation: int, result: builtins.list[WatchEvent] | StoreError) -> None:
        changes: builtins.list[tuple[str, T | None, T | None]] = []
        with self._lock:
            if generation != self._generation:
                return
            if isinstance(result, StoreError):
                self._pending_error = result
                self._generation += 1
                self._rewatch.set()
                return
            for ev in result:
                change = self._apply_locked(ev)
                if change is not None:
                    changes.append(change)
            # advertised only now that the whole batch is cached: a reader waiting for
            # revision R must see every write of R's transaction, not some of them
            if result:
                self._revision = max(self._revision, max(ev.mod_revision for ev in result))
                self._advanced.notify_all()
        for key, old, new in changes:
            self._notify(key, old, new)

    def _on_progress(self, generation: int, revision: int) -> None:
        """etcd says the watch has delivered everything up to `revision` (it answers on the
        watch's own stream, after the events before it)."""
        with self._lock:
            if generation == self._generation and revision > self._revision:
                self._revision = revision
                self._advanced.notify_all()

    def _relist(self, *, replay: bool = False) -> None:
        """List the prefix and deliver the differences to the cache as events. With `replay`
        (the first listing after `start`) unchanged objects are delivered too: a restarted
        controller's queue is new and empty, and every key must be looked at again."""
        raw, rev = self.store.list_raw(self.prefix)
        fresh: dict[str, Versioned[T]] = {}
        for i in raw:
            try:
                fresh[i.key] = Versioned(i.key, self._decode(i.value), i.mod_revision, i.create_revision)
            except codec.CodecError as exc:
                log.error("informer=%s key=%s undecodable value: %s", self.name, i.key, exc)
        with self._lock:
            old = self._cache
            changes: builtins.list[tuple[str, T | None, T | None]] = []
            for key, item in fresh.items():
                prev = old.get(key)
                if replay or prev is None or prev.mod_revision != item.mod_revision:
                    changes.append((key, prev.value if prev else None, item.value))
            for key, prev in old.items():
                if key not in fresh:
                    changes.append((key, prev.value, None))
            self._cache = fresh
            self._revision = rev
            self._listed_revision = rev
            self._rebuild_indexes()
            self._advanced.notify_all()
        for key, o, n in changes:
            self._notify(key, o, n)

    def _decode(self, data: bytes) -> T:
        if self.typ is bytes:
            return data  # type: ignore[return-value]
        return codec.decode(data, self.typ)

    def _rebuild_indexes(self) -> None:
        for name, fn in self._indexers.items():
            idx: dict[str, set[str]] = {}
            for key, item in self._cache.items():
                for v in fn(item.value):
                    idx.setdefault(v, set()).add(key)
            self._indexes[name] = idx
        if self._aggregates:
            values = {k: v.value for k, v in self._cache.items()}
            for agg in self._aggregates:
                agg.reset(values)

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

    def _apply_locked(self, ev: WatchEvent) -> tuple[str, T | None, T | None] | None:
        """Apply one event to the cache and indexes (lock held); the change to notify.

        An event the cache already reflects is skipped: anything at or below the last
        listing's revision, or older than the cached object. (Not "at or below the cache's
        revision": the events of one transaction share a revision and may arrive in more
        than one batch.)"""
        prev = self._cache.get(ev.key)
        if ev.mod_revision <= self._listed_revision:
            return None
        if prev is not None and (
            prev.mod_revision > ev.mod_revision or (ev.type == "put" and prev.mod_revision == ev.mod_revision)
        ):
            return None
        if ev.type == "put" and ev.value is not None:
            try:
                new = self._decode(ev.value)
            except codec.CodecError as exc:
                log.error("informer=%s key=%s undecodable value: %s", self.name, ev.key, exc)
                return None
            if prev is not None:
                self._index_remove(ev.key, prev.value)
            self._cache[ev.key] = Versioned(ev.key, new, ev.mod_revision, ev.create_revision)
            self._index_add(ev.key, new)
            old = prev.value if prev else None
            for agg in self._aggregates:
                agg.change(ev.key, old, new)
            return ev.key, old, new
        if prev is None:
            return None
        self._index_remove(ev.key, prev.value)
        del self._cache[ev.key]
        for agg in self._aggregates:
            agg.change(ev.key, prev.value, None)
        return ev.key, prev.value, None

    def _notify(self, key: str, old: T | None, new: T | None) -> None:
        for h in self._handlers:
            try:
                h(key, old, new)
            except Exception:  # a handler must not kill the watch thread
                log.exception("informer=%s key=%s handler failed", self.name, key)
