"""A work queue of keys, shaped like client-go's.

A key added while queued is not queued twice; a key added while being processed is queued
again only when its worker calls `done`, so no two workers ever hold one key. Failures
re-add the key after a per-key exponential backoff (`add_rate_limited`); `forget` resets it.

`PriorityWorkQueue` hands out ready keys by rank (lowest first, then first queued) instead
of first in, first out: the scheduler's evaluation broker order (controllers/scheduler).
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Any, Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
Rank = tuple[Any, ...]


class _Ready(Protocol[K]):
    """The ready keys, in the order they are handed out."""

    def append(self, key: K, /) -> None: ...
    def popleft(self) -> K: ...
    def __len__(self) -> int: ...


class ShutDown(Exception):
    """The queue was shut down; the worker should exit."""


class WorkQueue(Generic[K]):
    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 60.0) -> None:
        self._cond = threading.Condition()
        self._queue: _Ready[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = 0
        self._shutdown = False
        self.base_delay = base_delay
        self.max_delay = max_delay

    def add(self, key: K) -> None:
        with self._cond:
            if self._shutdown or key in self._dirty:
                return
            self._dirty.add(key)
            if key not in self._processing:
                self._queue.append(key)
                self._cond.notify()

    def add_after(self, key: K, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            self._seq += 1
            heapq.heappush(self._delayed, (time.monotonic() + delay, self._seq, key))
            self._cond.notify_all()

    def backoff(self, key: K) -> float:
        with self._cond:
            return min(self.base_delay * (2.0 ** self._failures.get(key, 0)), self.max_delay)

    def add_rate_limited(self, key: K) -> float:
        with self._cond:
            n = self._failures.get(key, 0)
            self._failures[key] = n + 1
        delay = min(self.base_delay * (2.0**n), self.max_delay)
        self.add_after(key, delay)
        return delay

    def failures(self, key: K) -> int:
        with self._cond:
            return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def _promote_delayed(self) -> float | None:
        """Move due delayed keys onto the queue; return seconds until the next one."""
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            if key not in self._dirty:
                self._dirty.add(key)
                if key not in self._processing:
                    self._queue.append(key)
        return self._delayed[0][0] - now if self._delayed else None

    def get(self, timeout: float | None = None) -> K:
        """The next key to process; blocks. Raises ShutDown, or TimeoutError after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    raise ShutDown()
                wait = self._promote_delayed()
                if self._queue:
                    key = self._queue.popleft()
                    self._processing.add(key)
                    self._dirty.discard(key)
                    return key
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError()
                    wait = left if wait is None else min(wait, left)
                self._cond.wait(wait)

    def done(self, key: K) -> None:
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def idle(self) -> bool:
        """Nothing queued, nothing processing, nothing delayed (tests wait on this)."""
        with self._cond:
            return not self._queue and not self._processing and not self._delayed


class _Ranked(Generic[K]):
    """The ready keys of a `PriorityWorkQueue`: a heap in (rank, arrival) order, with the
    deque methods `WorkQueue` uses (append, popleft, len)."""

    def __init__(self, ranks: dict[K, Rank], default: Rank) -> None:
        self._ranks = ranks
        self._default = default
        self._heap: list[tuple[Rank, int, K]] = []
        self._seq = 0

    def append(self, key: K) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (self._ranks.get(key, self._default), self._seq, key))

    def popleft(self) -> K:
        return heapq.heappop(self._heap)[2]

    def __len__(self) -> int:
        return len(self._heap)


class PriorityWorkQueue(WorkQueue[K]):
    """A `WorkQueue` whose ready keys come out lowest rank first (equal ranks: first queued
    first). A key's rank is the last one `set_rank` gave it (`default` before that), taken
    when the key joins the ready keys; a key already waiting keeps the rank it joined with."""

    def __init__(self, *, default: Rank = (), **kw: float) -> None:
        super().__init__(**kw)
        self._ranks: dict[K, Rank] = {}
        self._queue = _Ranked(self._ranks, default)

    def set_rank(self, key: K, rank: Rank) -> None:
        with self._cond:
            self._ranks[key] = rank

    def add_ranked(self, key: K, rank: Rank) -> None:
        self.set_rank(key, rank)
        self.add(key)
