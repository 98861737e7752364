"""The store's connections to etcd: one python-etcd3 client per endpoint (made on first
use), which endpoint is current, and the one place a call is made, its wire errors
translated (`errors.translate`), retried on transient failures with backoff.

An endpoint that fails with `Unavailable` is rotated away from at once, so with several
endpoints (a three-member etcd) the next attempt, and every later call, goes to the next
member: a killed member costs the calls in flight one retry, not a timeout each.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlparse

import etcd3
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from reconciler.metrics import ETCD_ERRORS, ETCD_SECONDS
from reconciler.store.auth import EtcdAuth
from reconciler.store.errors import Unavailable, expired_auth, translate

T = TypeVar("T")

# Retry waits and the channel's reconnect backoff are both capped at half a second: after
# an etcd restart every caller is through within about a second of etcd answering again
# (issue 13's target is 2 s; tests/runtime/test_etcd_restart.py measures it).
RETRY_WAIT_MAX = 0.5

# gRPC channel options: reconnect quickly once etcd is back (the default backoff grows to
# two minutes) and accept large listings.
GRPC_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
    ("grpc.max_receive_message_length", 256 * 1024 * 1024),
]


class Connection:
    """The clients of one `Store` (shared by its views). Thread-safe."""

    def __init__(self, endpoints: Sequence[str], *, timeout: float, auth: EtcdAuth | None = None) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is needed")
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self.auth = auth or EtcdAuth()
        self._lock = threading.Lock()
        self._index = 0
        self.clients: dict[int, Any] = {}

    def client(self) -> Any:
        """The current endpoint's client."""
        with self._lock:
            idx = self._index
            client = self.clients.get(idx)
            if client is None:
                ep = self.endpoints[idx]
                url = urlparse(ep if "//" in ep else "http://" + ep)
                client = etcd3.client(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or 2379,
                    timeout=self.timeout,
                    grpc_options=GRPC_OPTIONS,
                    **self.auth.client_kwargs(),
                )
                # etcd3 marks an endpoint "failed" for 300 s after one UNAVAILABLE error and
                # then refuses every call with ValueError: an etcd restart would make this
                # Store useless for five minutes. Retrying is our job (tenacity), not its.
                for endpoint in client.endpoints.values():
                    endpoint.time_retry = 0
                self.clients[idx] = client
            return client

    def rotate(self, away_from: Any) -> None:
        """Move to the next endpoint, unless another thread already moved away from
        `away_from` (many calls failing at once must not skip the healthy members)."""
        with self._lock:
            if len(self.endpoints) > 1 and self.clients.get(self._index) is away_from:
                self._index = (self._index + 1) % len(self.endpoints)

    def once(self, fn: Callable[[Any], T], op: str = "other") -> T:
        """Run `fn(client)` once, wire errors translated; an unreachable endpoint is
        rotated away from. Timed and counted under `op` (docs/metrics.md)."""
        started = time.perf_counter()
        client = None
        try:
            client = self.client()  # connecting may fail too (etcd refusing a user's login)
            return fn(client)
        except Exception as exc:
            if expired_auth(exc):  # etcd's simple tokens lapse when idle: log in again
                self.close()
            err = translate(exc)
            ETCD_ERRORS.labels(op, type(err or exc).__name__).inc()
            if err is None:
                raise
            if isinstance(err, Unavailable) and client is not None:
                self.rotate(client)
            if err is exc:
                raise
            raise err from exc
        finally:
            ETCD_SECONDS.labels(op).observe(time.perf_counter() - started)

    def call(self, fn: Callable[[Any], T], *, retry_for: float, op: str = "other") -> T:
        """`once`, retried on `Unavailable` for `retry_for` seconds; then `unreachable`.
        Only for calls that are safe to repeat."""
        try:
            for state in Retrying(
                retry=retry_if_exception_type(Unavailable),
                wait=wait_exponential(multiplier=0.05, max=RETRY_WAIT_MAX),
                stop=stop_after_delay(retry_for),
                reraise=True,
            ):
                with state:
                    return self.once(fn, op)
        except Unavailable as exc:
            raise self.unreachable(retry_for, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def unreachable(self, retry_for: float, exc: BaseException | None) -> Unavailable:
        return Unavailable(
            f"etcd is unreachable at {', '.join(self.endpoints)} (gave up after {retry_for:.1f}s): {exc}"
        )

    def close(self) -> None:
        with self._lock:
            for c in self.clients.values():
                with contextlib.suppress(Exception):
                    c.close()
            self.clients.clear()
