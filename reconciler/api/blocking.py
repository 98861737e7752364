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
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from reconciler.api.errors import ApiError
from reconciler.spec.durations import parse_duration

DEFAULT_WAIT = 300.0
MAX_WAIT = 600.0
_NOT_KEYS = frozenset({"index", "wait", "stale"})  # how a query blocks, not what it reads
ViewKey = tuple[str, str, tuple[tuple[str, str], ...]]


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


Parts = tuple[int, ...]  # the revisions an answer is made of; it has passed an index when its max has


@dataclass(eq=False)
class _Group:
    """The blocked queries of one key (one view: the same path and query, so the same index
    function and answer): its index is computed once per change for all of them."""

    index: Callable[[], Parts]
    seen: int  # max(index()) when last looked at: a change that leaves it is skipped
    on_pass: Callable[[Parts], asyncio.Future[Any] | None] | None
    waiters: dict[asyncio.Future[Parts | None], int] = field(default_factory=dict)  # -> index to pass


def view_key(request: web.Request) -> ViewKey:
    """What an answer depends on besides the revisions: its path and query (less the
    blocking parameters). Blocked queries of one view share an index check and a rendering."""
    query = tuple(sorted((k, v) for k, v in request.query.items() if k not in _NOT_KEYS))
    return request.method, request.path, query


class Changes:
    """Wakes coroutines of one event loop when a cache changes (called from any thread).

    Blocked queries wait in groups by key (`wait_past`): one change costs one index
    computation per group, and wakes only the queries whose index it passed, each once,
    with the answer's revisions. A group may start its answer's rendering when it passes
    (`on_pass`), and its queries are then woken when that is done, so a thousand clients
    of one view cost one index check, one rendering and a thousand responses. Each waiter
    holds one future and one timer (no task per waiter, as `asyncio.wait_for` would make).
    `wait_until` re-checks a predicate on every change: for the few waits that are not
    blocked queries (a read waiting for this agent's own writes)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._groups: dict[Hashable, _Group] = {}
        self._blocked = 0
        self._pending = False  # a wake-up is scheduled on the loop

    @property
    def waiting(self) -> int:
        """Coroutines held now (blocked queries and `wait_until`s)."""
        return len(self._waiters) + self._blocked

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
            _resolve(f)
        for group in list(self._groups.values()):
            _wake(group)

    async def wait_until(self, passed: Callable[[], bool], timeout: float) -> bool:
        """Return once `passed()` is true (True) or after `timeout` seconds (False)."""
        loop = self._running_loop()
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

    async def wait_past(
        self,
        key: Hashable,
        index: Callable[[], Parts],
        after: int,
        timeout: float,
        on_pass: Callable[[Parts], asyncio.Future[Any] | None] | None = None,
    ) -> Parts:
        """A blocking query: `index()` once its maximum passes `after`, or when `timeout`
        seconds have passed. Queries of one `key` must have equivalent `index` and
        `on_pass` (the first one's serve the group); `on_pass(parts)` may return a future
        (the answer's rendering) that the group's woken queries are released after."""
        parts = index()
        if max(parts) > after:
            return parts
        loop = self._running_loop()
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(index, max(parts), on_pass)
        group.seen = min(group.seen, max(parts))
        f: asyncio.Future[Parts | None] = loop.create_future()
        group.waiters[f] = after
        self._blocked += 1
        timer = loop.call_later(timeout, _resolve, f)
        try:
            got = await f
        finally:
            timer.cancel()
            self._blocked -= 1
            group.waiters.pop(f, None)
            if not group.waiters and self._groups.get(key) is group:
                del self._groups[key]
        return got if got is not None else index()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self.bind(loop)
        return loop


def _wake(group: _Group) -> None:
    """One change, seen by one group: its index once; its queries that it passed released."""
    try:
        parts = group.index()
    except Exception:  # each query then computes its index itself and answers the error
        for f in group.waiters:
            _resolve(f)
        return
    top = max(parts)
    if top == group.seen:
        return
    group.seen = top
    passed = [f for f, after in group.waiters.items() if top > after]
    if not passed:
        return
    ready = group.on_pass(parts) if group.on_pass is not None else None
    if ready is None:
        _resolve_all(passed, parts)
    else:
        ready.add_done_callback(lambda _: _resolve_all(passed, parts))


def _resolve_all(futures: list[asyncio.Future[Parts | None]], parts: Parts) -> None:
    for f in futures:
        if not f.done():
            f.set_result(parts)


def _resolve(f: asyncio.Future[Any]) -> None:
    if not f.done():
        f.set_result(None)
