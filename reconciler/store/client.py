"""`Store`: typed access to etcd for everything else in reconciler.

Values are JSON (see `reconciler.codec`). Reads return `Versioned` objects carrying the
key's mod revision, so a writer can make its write conditional on nothing having changed
since it read (`Txn.compare_mod`, or `update` which does the read-modify-write loop).
Transient failures (etcd restarting, a leader change) are retried with backoff; a cluster
that stays unreachable raises `Unavailable` naming the endpoints. Connections, endpoint
failover and retries are in `connection`, transactions in `txn`, leases in `leases`, watches
in `watch`, the error table in `errors`, leader fencing in `fence`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from reconciler import codec
from reconciler.store.auth import EtcdAuth
from reconciler.store.connection import RETRY_WAIT_MAX, Connection
from reconciler.store.errors import Conflict, StoreError, Unavailable
from reconciler.store.fence import Fence
from reconciler.store.keys import Keys
from reconciler.store.leases import Lease
from reconciler.store.txn import MAX_TXN_OPS, Outcome, Txn, keys_of, outcome, to_request
from reconciler.store.watch import ProgressCallback, Watch, WatchCallback
from reconciler.store.written import Written

log = logging.getLogger(__name__)

T = TypeVar("T")


def _prefix_end(prefix: bytes) -> bytes:
    """The first key after every key that starts with `prefix` (etcd's range_end)."""
    b = bytearray(prefix)
    while b:
        if b[-1] < 0xFF:
            b[-1] += 1
            return bytes(b)
        b.pop()
    return b"\0"


@dataclass(frozen=True)
class Versioned(Generic[T]):
    key: str
    value: T
    mod_revision: int
    create_revision: int = 0


# keys per page when listing a prefix (pages are read at one revision)
LIST_PAGE = 2000


class Store:
    """The one etcd access layer. Thread-safe (the grpc channel is)."""

    def __init__(
        self,
        endpoints: Sequence[str] = ("http://127.0.0.1:2379",),
        *,
        prefix: str = "/reconciler/",
        timeout: float = 5.0,
        retry_for: float = 10.0,
        auth: EtcdAuth | None = None,
    ) -> None:
        self._conn = Connection(endpoints, timeout=timeout, auth=auth)
        self.keys = Keys(prefix)
        self.timeout = timeout
        self.retry_for = retry_for
        self._written = Written(self.keys.prefix)  # shared with the views
        self._fence: Fence | None = None  # set on the views `fenced` returns
        self._owner = True  # False on views: they share the connections, never close them

    # views: the same connections, another policy -------------------------------------------
    def fenced(self, fence: Fence) -> Store:
        """This store with every write guarded by `fence` (one leader term; see `fence.py`).
        Reads and watches are unchanged."""
        view = self._view()
        view._fence = fence
        return view

    def retrying_for(self, seconds: float) -> Store:
        """This store giving up after `seconds` instead of `retry_for` (the API answers 503
        while etcd is away rather than holding a request for the store's full patience)."""
        view = self._view()
        view.retry_for = seconds
        return view

    def _view(self) -> Store:
        view = copy.copy(self)
        view._owner = False
        return view

    # connection (connection.py) ---------------------------------------------------------
    @property
    def endpoints(self) -> list[str]:
        return self._conn.endpoints

    @property
    def _clients(self) -> dict[int, Any]:
        return self._conn.clients

    def _call(self, fn: Callable[[Any], T], *, op: str = "other", retry_for: float | None = None) -> T:
        """Run `fn(client)`, retrying transient failures for `retry_for` seconds (default:
        the store's); then Unavailable naming the endpoints. Only for calls that are safe
        to repeat: transactions go through `_commit`."""
        return self._conn.call(fn, retry_for=self.retry_for if retry_for is None else retry_for, op=op)

    def close(self) -> None:
        if self._owner:  # views share the connection
            self._conn.close()

    def ping(self) -> int:
        """The cluster's current revision; raises Unavailable if nobody answers."""
        return self.revision()

    def revision(self) -> int:
        resp = self._call(lambda c: c.get_response(self.keys.prefix + "\0revision-probe"), op="get")
        return int(resp.header.revision)

    def written_revision(self, prefix: str) -> int:
        """The newest revision at which this Store changed a key of `prefix`'s kind (0: none)."""
        return self._written.revision(prefix)

    # reads ----------------------------------------------------------------------------
    def get_raw(self, key: str, *, retry_for: float | None = None) -> Versioned[bytes] | None:
        resp = self._call(lambda c: c.get_response(key), op="get", retry_for=retry_for)
        if not resp.kvs:
            return None
        kv = resp.kvs[0]
        return Versioned(key, bytes(kv.value), int(kv.mod_revision), int(kv.create_revision))

    def get(self, key: str, typ: type[T], *, retry_for: float | None = None) -> Versioned[T] | None:
        raw = self.get_raw(key, retry_for=retry_for)
        if raw is None:
            return None
        return Versioned(key, codec.decode(raw.value, typ), raw.mod_revision, raw.create_revision)

    def list_raw(self, prefix: str) -> tuple[list[Versioned[bytes]], int]:
        """Every key under `prefix` and the revision the listing was read at.

        Read in pages of LIST_PAGE keys, every page at the first page's revision, so the
        result is one consistent snapshot however large the prefix is."""
        if not prefix.endswith("/"):
            raise ValueError(f"prefix {prefix!r} must end with '/'")
        end = _prefix_end(prefix.encode())
        start = prefix.encode()
        items: list[Versioned[bytes]] = []
        revision: int | None = None
        while True:

            def page(c: Any, s: bytes = start, r: int | None = revision) -> Any:
                return c.get_range_response(s, end, limit=LIST_PAGE, revision=r)

            resp = self._call(page, op="range")
            if revision is None:
                revision = int(resp.header.revision)
            for kv in resp.kvs:
                items.append(
                    Versioned(kv.key.decode(), bytes(kv.value), int(kv.mod_revision), int(kv.create_revision))
                )
            if not resp.more or not resp.kvs:
                return items, revision
            start = bytes(resp.kvs[-1].key) + b"\0"

    def list(self, prefix: str, typ: type[T]) -> tuple[list[Versioned[T]], int]:
        items, rev = self.list_raw(prefix)
        return [
            Versioned(i.key, codec.decode(i.value, typ), i.mod_revision, i.create_revision) for i in items
        ], rev

    def count(self, prefix: str) -> int:
        resp = self._call(lambda c: c.get_prefix_response(prefix, count_only=True), op="range")
        return int(resp.count)

    def compact(self, revision: int, *, physical: bool = True) -> None:
        """Discard history before `revision` (operators and tests; etcd also auto-compacts).
        Watches that resume from an older revision then get `Compacted`."""
        self._call(lambda c: c.compact(revision, physical=physical), op="compact")

    # writes ---------------------------------------------------------------------------
    def put(self, key: str, value: Any, *, lease: int | None = None) -> int:
        """Put unconditionally; the revision it was written at."""
        applied = self._commit(Txn().put(key, value, lease=lease))
        assert applied is not None  # no compares: it cannot fail one
        return applied[0]

    def delete(self, key: str) -> bool:
        """Delete `key`; whether it existed (True also when the answer was lost and the key
        was found gone: the caller asked for it gone)."""
        applied = self._commit(Txn().delete(key))
        assert applied is not None  # no compares: it cannot fail one
        return applied[1] > 0

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under `prefix`; how many. A range delete is safe to send again,
        so it is retried like a read (a count after a lost answer may be short)."""
        if not prefix.endswith("/"):
            raise ValueError(f"prefix {prefix!r} must end with '/'")
        resp = self._call(lambda c: c.delete_prefix(prefix), op="delete")
        if int(resp.deleted):
            self._written.record([prefix], int(resp.header.revision))
        return int(resp.deleted)

    def commit(self, txn: Txn) -> bool:
        """Apply `txn`; False if a compare failed (nothing was written). Callers that retry
        a lost race themselves use this; `update` retries for you and raises `Conflict`."""
        return self._commit(txn) is not None

    def commit_revision(self, txn: Txn) -> int | None:
        """Apply `txn` (which must put at least one key); the revision it was applied at, or
        None if a compare failed. Saves a read-back for writers that chain transactions on
        a key's mod revision (the scheduler's batched plans)."""
        if not txn.puts:
            raise ValueError("commit_revision needs a transaction with at least one put")
        applied = self._commit(txn)
        return applied[0] if applied is not None else None

    def _commit(self, txn: Txn) -> tuple[int, int] | None:
        """Every write ends here: `_apply`, guarded by the fence of a fenced view."""
        if len(txn) > MAX_TXN_OPS:
            raise StoreError(f"transaction has {len(txn)} operations; etcd allows {MAX_TXN_OPS}")
        if self._fence is None:
            return self._apply(txn)
        applied = self._apply(self._fence.guard(txn))
        if applied is None:
            self._fence.confirm(self)
        return applied

    def _apply(self, txn: Txn) -> tuple[int, int] | None:
        """Apply `txn`: (the revision of its first put or 0 if it only deletes, how many keys
        its deletes removed), or None if a compare failed.

        A transaction is never sent again blindly: when an attempt's answer is lost
        (deadline, dropped connection) it may have applied, so its keys are read first and
        `txn.outcome` decides between "applied" (report success), "not applied, compares
        hold" (send again) and "conflict". A compare failure after such an attempt is
        checked the same way (the lost attempt may have applied late)."""

        def run(c: Any) -> tuple[int, int] | None:
            compares, ops = to_request(txn, c.transactions)
            ok, responses = c.transaction(compare=compares, success=ops, failure=[])
            if not ok:
                return None
            revision = int(responses[0].response_put.header.revision) if txn.puts else 0
            dels = [r.response_delete_range for r in responses[len(txn.puts) :]]
            self._written.record_txn(txn, dels, revision)
            return revision, sum(int(r.deleted) for r in dels)

        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        lost: Unavailable | None = None  # the last attempt whose answer was lost
        while True:
            try:
                applied = self._conn.once(run, "txn")
                if applied is not None or lost is None:
                    return applied
            except Unavailable as exc:
                lost = exc
            seen = self._read_keys(keys_of(txn), retry_for=max(0.1, deadline - time.monotonic()))
            result, applied_at = outcome(txn, seen)
            log.info("txn keys=%s answer lost (%s); read back: %s", keys_of(txn)[:3], lost, result.value)
            if result is Outcome.APPLIED:
                return applied_at, len(txn.deletes)
            if result is Outcome.CONFLICT:
                return None
            if time.monotonic() + delay >= deadline:
                raise self._conn.unreachable(self.retry_for, lost)
            time.sleep(delay)
            delay = min(delay * 2, RETRY_WAIT_MAX)

    def _read_keys(self, keys: Sequence[str], *, retry_for: float) -> dict[str, tuple[bytes, int] | None]:
        """The value and mod revision of each key (None if absent), read at one revision."""

        def run(c: Any) -> dict[str, tuple[bytes, int] | None]:
            t = c.transactions
            _, responses = c.transaction(compare=[], success=[t.get(k) for k in keys], failure=[])
            return {
                k: (bytes(kvs[0][0]), int(kvs[0][1].mod_revision)) if kvs else None
                for k, kvs in zip(keys, responses, strict=True)
            }

        return self._call(run, op="get", retry_for=retry_for)

    def update(
        self,
        key: str,
        typ: type[T],
        fn: Callable[[T | None], T | None],
        *,
        attempts: int = 20,
        also: Callable[[T], Txn] | None = None,
    ) -> Versioned[T] | None:
        """The one optimistic read-modify-write: read `key`, compute `fn(current)`, write
        the result only if the key has not changed since the read (or is still absent),
        and start over on a conflict, at most `attempts` times; then `Conflict`.

        `fn` must be pure (it may run several times): it gets the current value (None if
        the key is absent) and returns the new value, or None for "nothing to write"
        (then the current `Versioned`, or None, is returned unchanged). `also(new)` returns
        a `Txn` of extra compares and writes that commit in the same transaction (an
        evaluation beside the object, a history record); it runs once per attempt, after
        `fn`. Returns the written value with the revision it was committed at."""
        for _ in range(attempts):
            cur = self.get(key, typ)
            new = fn(cur.value if cur is not None else None)
            if new is None:
                return cur
            txn = Txn().compare_mod(key, cur.mod_revision) if cur is not None else Txn().compare_absent(key)
            txn.put(key, new)
            if also is not None:
                txn.extend(also(new))
            revision = self.commit_revision(txn)
            if revision is not None:
                return Versioned(key, new, revision, cur.create_revision if cur is not None else revision)
        raise Conflict(f"{key}: still changing after {attempts} attempts; try again")

    def put_many(self, items: Iterable[tuple[str, Any]], *, lease: int | None = None) -> int:
        """Unconditional puts in transactions of at most MAX_TXN_OPS; returns how many."""
        n = 0
        txn = Txn()
        for key, value in items:
            txn.put(key, value, lease=lease)
            n += 1
            if len(txn) == MAX_TXN_OPS:
                self.commit(txn)
                txn = Txn()
        if len(txn):
            self.commit(txn)
        return n

    def create(self, key: str, value: Any, *, lease: int | None = None) -> bool:
        """Put only if the key does not exist."""
        return self.commit(Txn().compare_absent(key).put(key, value, lease=lease))

    def replace(self, key: str, mod_revision: int, value: Any) -> bool:
        """Put only if the key is still at `mod_revision` (optimistic concurrency)."""
        return self.commit(Txn().compare_mod(key, mod_revision).put(key, value))

    def snapshot(self, path: Path) -> int:
        """Write etcd's snapshot (its whole keyspace, every prefix) to `path`, through a
        temporary file so a failed attempt leaves no half file; the bytes written."""
        tmp = path.with_name(path.name + ".part")

        def save(c: Any) -> int:
            with open(tmp, "wb") as f:
                c.snapshot(f)
                return f.tell()

        size = self._call(save)
        tmp.replace(path)
        return size

    # leases ---------------------------------------------------------------------------
    def lease(self, ttl: int) -> Lease:
        """Grant a lease of `ttl` seconds (the holder refreshes it; see `KeptLease`)."""
        return Lease(self, int(self._call(lambda c: c.lease(ttl), op="lease").id), ttl)

    # watches --------------------------------------------------------------------------
    def watch(
        self,
        prefix: str,
        start_revision: int,
        callback: WatchCallback,
        *,
        prev_kv: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> Watch:
        """Deliver every change under `prefix` from `start_revision` on.

        The callback receives a list of events, or a StoreError: `Compacted` (re-list) or
        `Unavailable` (the stream broke; the caller re-watches from its last revision). With
        `prev_kv` each event also carries the value before it (`WatchEvent.prev_value`).
        `on_progress` receives the revision etcd answers `Watch.request_progress()` with.
        """
        key = prefix.encode()

        def add(c: Any) -> Watch:
            return Watch.open(
                c,
                key=key,
                range_end=_prefix_end(key),
                start_revision=start_revision,
                callback=callback,
                prev_kv=prev_kv,
                on_progress=on_progress,
                timeout=self.timeout,
            )

        return self._call(add, op="watch")
