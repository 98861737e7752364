"""`Store`: typed access to etcd for everything else in reconciler.

Values are JSON (see `reconciler.codec`). Reads return `Versioned` objects carrying the
key's mod revision, so a writer can make its write conditional on nothing having changed
since it read (`Txn.compare_mod`, or `update` which does the read-modify-write loop).
Transient failures (etcd restarting, a leader change) are retried with backoff; a cluster
that stays unreachable raises `Unavailable` naming the endpoints. Transactions are in
`txn`, leases in `leases`, watches in `watch`, the error table in `errors`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlparse

import etcd3
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from reconciler import codec
from reconciler.store.auth import EtcdAuth
from reconciler.store.errors import Conflict, StoreError, Unavailable, expired_auth, translate
from reconciler.store.keys import Keys
from reconciler.store.leases import Lease
from reconciler.store.txn import MAX_TXN_OPS, Outcome, Txn, keys_of, outcome, to_request
from reconciler.store.watch import Watch, WatchCallback, responses_to

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


# Retry waits and the channel's reconnect backoff are both capped at half a second: after
# an etcd restart every caller is through within about a second of etcd answering again
# (issue 13's target is 2 s; tests/runtime/test_etcd_restart.py measures it).
RETRY_WAIT_MAX = 0.5

# gRPC channel options: reconnect quickly once etcd is back (the default backoff grows to
# two minutes) and accept large listings.
_GRPC_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
]

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
        if not endpoints:
            raise ValueError("at least one etcd endpoint is needed")
        self.endpoints = list(endpoints)
        self.auth = auth or EtcdAuth()
        self.keys = Keys(prefix)
        self.timeout = timeout
        self.retry_for = retry_for
        self._lock = threading.Lock()
        self._index = 0
        self._clients: dict[int, Any] = {}
        # key kind -> the newest revision this Store changed a key of it at: caches fed by
        # watches wait for it so that a process reads its own writes (`reconciler.api.watched`)
        self._written: dict[str, int] = {}
        self._written_lock = threading.Lock()

    # connection -----------------------------------------------------------------------
    def _client(self) -> Any:
        with self._lock:
            idx = self._index
            client = self._clients.get(idx)
            if client is None:
                url = urlparse(
                    self.endpoints[idx] if "//" in self.endpoints[idx] else "http://" + self.endpoints[idx]
                )
                client = etcd3.client(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or 2379,
                    timeout=self.timeout,
                    grpc_options=_GRPC_OPTIONS,
                    **self.auth.client_kwargs(),
                )
                # etcd3 marks an endpoint "failed" for 300 s after one UNAVAILABLE error and
                # then refuses every call with ValueError: an etcd restart would make this
                # Store useless for five minutes. Retrying is our job (tenacity), not its.
                for ep in client.endpoints.values():
                    ep.time_retry = 0
                self._clients[idx] = client
            return client

    def _rotate(self) -> None:
        with self._lock:
            if len(self.endpoints) > 1:
                self._index = (self._index + 1) % len(self.endpoints)

    def _call(self, fn: Callable[[Any], T], *, retry_for: float | None = None) -> T:
        """Run `fn(client)`, retrying transient failures for `retry_for` seconds (default:
        the store's); then Unavailable naming the endpoints. Only for calls that are safe
        to repeat: transactions go through `_commit`."""
        retry_for = self.retry_for if retry_for is None else retry_for
        try:
            for state in Retrying(
                retry=retry_if_exception_type(Unavailable),
                wait=wait_exponential(multiplier=0.05, max=RETRY_WAIT_MAX),
                stop=stop_after_delay(retry_for),
                reraise=True,
            ):
                with state:
                    return self._once(fn)
        except Unavailable as exc:
            raise Unavailable(
                f"etcd is unreachable at {', '.join(self.endpoints)} (gave up after {retry_for:.1f}s): {exc}"
            ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(client)` once, wire errors translated (`errors.translate`); an
        unreachable endpoint is rotated away from."""
        try:
            return fn(self._client())
        except Exception as exc:
            if expired_auth(exc):  # etcd's simple tokens lapse when idle: log in again
                self.close()
            err = translate(exc)
            if err is None:
                raise
            if isinstance(err, Unavailable):
                self._rotate()
            if err is exc:
                raise
            raise err from exc

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                with contextlib.suppress(Exception):
                    c.close()
            self._clients.clear()

    def ping(self) -> int:
        """The cluster's current revision; raises Unavailable if nobody answers."""
        return self.revision()

    def revision(self) -> int:
        resp = self._call(lambda c: c.get_response(self.keys.prefix + "\0revision-probe"))
        return int(resp.header.revision)

    def written_revision(self, prefix: str) -> int:
        """The newest revision at which this Store changed a key of `prefix`'s kind (0: none)."""
        return self._written.get(self._kind(prefix), 0)

    def _kind(self, key: str) -> str:
        return key[len(self.keys.prefix) :].split("/", 1)[0] if key.startswith(self.keys.prefix) else ""

    def _wrote_txn(self, txn: Txn, deletes: Sequence[Any], revision: int) -> None:
        """Record an applied transaction's puts, and its deletes that removed a key."""
        gone = [k for k, r in zip(txn.deletes, deletes, strict=True) if int(r.deleted)]
        if txn.puts or gone:
            self._wrote([k for k, _, _ in txn.puts] + gone, revision or int(deletes[0].header.revision))

    def _wrote(self, keys: Iterable[str], revision: int) -> None:
        with self._written_lock:
            for key in keys:
                kind = self._kind(key)
                self._written[kind] = max(self._written.get(kind, 0), revision)

    # reads ----------------------------------------------------------------------------
    def get_raw(self, key: str, *, retry_for: float | None = None) -> Versioned[bytes] | None:
        resp = self._call(lambda c: c.get_response(key), retry_for=retry_for)
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

            resp = self._call(page)
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
        resp = self._call(lambda c: c.get_prefix_response(prefix, count_only=True))
        return int(resp.count)

    def compact(self, revision: int, *, physical: bool = True) -> None:
        """Discard history before `revision` (operators and tests; etcd also auto-compacts).
        Watches that resume from an older revision then get `Compacted`."""
        self._call(lambda c: c.compact(revision, physical=physical))

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
        resp = self._call(lambda c: c.delete_prefix(prefix))
        if int(resp.deleted):
            self._wrote([prefix], int(resp.header.revision))
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
        """Apply `txn`: (the revision of its first put or 0 if it only deletes, how many keys
        its deletes removed), or None if a compare failed.

        A transaction is never sent again blindly: when an attempt's answer is lost
        (deadline, dropped connection) it may have applied, so its keys are read first and
        `txn.outcome` decides between "applied" (report success), "not applied, compares
        hold" (send again) and "conflict". A compare failure after such an attempt is
        checked the same way (the lost attempt may have applied late)."""
        if len(txn) > MAX_TXN_OPS:
            raise StoreError(f"transaction has {len(txn)} operations; etcd allows {MAX_TXN_OPS}")

        def run(c: Any) -> tuple[int, int] | None:
            compares, ops = to_request(txn, c.transactions)
            ok, responses = c.transaction(compare=compares, success=ops, failure=[])
            if not ok:
                return None
            revision = int(responses[0].response_put.header.revision) if txn.puts else 0
            dels = [r.response_delete_range for r in responses[len(txn.puts) :]]
            self._wrote_txn(txn, dels, revision)
            return revision, sum(int(r.deleted) for r in dels)

        deadline = time.monotonic() + self.retry_for
        delay = 0.05
        lost: Unavailable | None = None  # the last attempt whose answer was lost
        while True:
            try:
                applied = self._once(run)
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
                raise Unavailable(
                    f"etcd is unreachable at {', '.join(self.endpoints)} "
                    f"(gave up after {self.retry_for:.1f}s): {lost}"
                )
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

        return self._call(run, retry_for=retry_for)

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

    # leases ---------------------------------------------------------------------------
    def lease(self, ttl: int) -> Lease:
        """Grant a lease of `ttl` seconds (the holder refreshes it; see `KeptLease`)."""
        return Lease(self, int(self._call(lambda c: c.lease(ttl)).id), ttl)

    # watches --------------------------------------------------------------------------
    def watch(self, prefix: str, start_revision: int, callback: WatchCallback) -> Watch:
        """Deliver every change under `prefix` from `start_revision` on.

        The callback receives a list of events, or a StoreError: `Compacted` (re-list) or
        `Unavailable` (the stream broke; the caller re-watches from its last revision).
        """
        on_response = responses_to(callback, prefix)

        def add(c: Any) -> Watch:
            return Watch(c, c.add_watch_prefix_callback(prefix, on_response, start_revision=start_revision))

        return self._call(add)
