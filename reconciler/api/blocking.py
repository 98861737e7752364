"""Blocking queries, Consul's and Nomad's semantics, over watched caches.

A read that carries `?index=N` is held until the index of what it reads passes N, or until
`?wait=` has passed (default 5 minutes, at most 10; the server adds up to wait/16 of
jitter so that many clients blocked on one change do not all come back at once), then
answered with the current data and its index. Indexes are etcd revisions, so they only
grow. Waiting costs no etcd traffic: the caches are informers, and their change callbacks
(on informer threads) wake the waiters on the event loop.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.api.errors import ApiError
from reconciler.spec.durations import parse_duration

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0


@dataclass(frozen=True)
class BlockingQuery:
    index: int
    wait: float  # seconds, jitter included


def parse_blocking(
    query: Mapping[str, str], *, jitter: Callable[[float], float] | None = None
) -> BlockingQuery | None:
    """`?index=` and `?wait=` of a request; None when the request does not block.

    `wait` takes Go durations ("10s", "5m") or plain seconds, as both servers do."""
    raw = query.get("index")
    if raw is None or raw == "":
        return None
    try:
        index = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"index must be a non-negative integer, got {raw!r}", field="index") from exc
    if index < 0:
        raise ApiError(400, f"index must be a non-negative integer, got {raw!r}", field="index")
    wait = DEFAULT_WAIT
    text = query.get("wait")
    if text:
        ns = parse_duration(text) if not text.isdigit() else int(text) * 1_000_000_000
        if ns is None or ns < 0:
            raise ApiError(400, f'wait must be a duration such as "10s" or "5m", got {text!r}', field="wait")
        wait = min(ns / 1e9, MAX_WAIT)
    spread = jitter if jitter is not None else (lambda w: random.uniform(0.0, w / 16))
    return BlockingQuery(index=index, wait=wait + spread(wait))


class Changes:
    """Wakes coroutines of one event loop when a cache changes (called from any thread).

    Each waiter holds one future and one timer, and a change resolves every future
    directly: a thousand blocked queries woken by one change cost a thousand callbacks,
    not the tasks `asyncio.wait_for` would make for each."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._pending = False  # a wake-up is scheduled on the loop

    @property
    def waiting(self) -> int:
        """Coroutines held in `wait_until` now (blocked queries)."""
        return len(self._waiters)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify(self) -> None:
        """Thread-safe: called by informer handlers after their cache changed. Changes that
        arrive before the loop runs the wake-up share it."""
        loop = self._loop
        if loop is None or loop.is_closed() or self._pending:
            return
        self._pending = True
        try:
            loop.call_soon_threadsafe(self._fire)
        except RuntimeError:  # the loop closed in between
            self._pending = False

    def _fire(self) -> None:
        self._pending = False
        waiters, self._waiters = self._waiters, set()
        for f in waiters:
            if not f.done():
                f.set_result(None)

    async def wait_until(self, passed: Callable[[], bool], timeout: float) -> bool:
        """Return once `passed()` is true (True) or after `timeout` seconds (False)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self.bind(loop)
        deadline = loop.time() + timeout
        while not passed():
            if loop.time() >= deadline:
                return False
            f: asyncio.Future[None] = loop.create_future()
            self._waiters.add(f)
            timer = loop.call_at(deadline, _resolve, f)
            try:
                await f
            finally:
                timer.cancel()
                self._waiters.discard(f)
        return True


def _resolve(f: asyncio.Future[None]) -> None:
    if not f.done():
        f.set_result(None)
