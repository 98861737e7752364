"""The work queue: de-duplication, one worker per key, backoff, delayed adds, shutdown.
No etcd and no wall-clock assertions: ordering and counts only."""

from __future__ import annotations

import collections
import random
import threading

import pytest

from reconciler.runtime import WorkQueue
from reconciler.runtime.workqueue import ShutDown
from tests.waiting import wait_for


def test_duplicates_are_queued_once() -> None:
    q: WorkQueue[str] = WorkQueue()
    for key in ["a", "b", "a", "a", "c", "b"]:
        q.add(key)
    assert len(q) == 3
    assert [q.get(0), q.get(0), q.get(0)] == ["a", "b", "c"]
    with pytest.raises(TimeoutError):
        q.get(timeout=0)


def test_key_added_while_processing_comes_back_only_after_done() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add("a")
    assert q.get(0) == "a"
    q.add("a")
    q.add("a")
    assert len(q) == 0  # not handed to a second worker while the first holds it
    with pytest.raises(TimeoutError):
        q.get(timeout=0)
    q.done("a")
    assert q.get(0) == "a"  # exactly once more
    q.done("a")
    assert q.idle()


def test_hammer_never_two_workers_on_one_key() -> None:
    q: WorkQueue[int] = WorkQueue()
    lock = threading.Lock()
    active: collections.Counter[int] = collections.Counter()
    max_active: collections.Counter[int] = collections.Counter()
    processed: collections.Counter[int] = collections.Counter()
    last_add: dict[int, int] = {}
    last_seen: dict[int, int] = {}
    seq = [0]
    stop = threading.Event()

    def worker() -> None:
        while True:
            try:
                key = q.get()
            except ShutDown:
                return
            with lock:
                active[key] += 1
                max_active[key] = max(max_active[key], active[key])
                last_seen[key] = last_add.get(key, 0)
            # yield to other threads while "processing"
            for _ in range(random.randint(0, 50)):
                pass
            with lock:
                active[key] -= 1
                processed[key] += 1
            q.done(key)

    def producer(seed: int) -> None:
        rnd = random.Random(seed)
        while not stop.is_set():
            key = rnd.randrange(10)
            with lock:
                seq[0] += 1
                last_add[key] = seq[0]
            q.add(key)

    workers = [threading.Thread(target=worker) for _ in range(8)]
    producers = [threading.Thread(target=producer, args=(i,)) for i in range(3)]
    for t in workers + producers:
        t.start()
    wait_for(lambda: sum(processed.values()) >= 3_000, timeout=30, message="3k keys processed")
    stop.set()
    for t in producers:
        t.join()
    # every key's latest add is processed after it was made (no lost adds)
    wait_for(q.idle, message="queue to drain")
    with lock:
        assert all(last_seen[k] == last_add[k] for k in last_add), (last_seen, last_add)
    q.shutdown()
    for t in workers:
        t.join(5)
    assert max(max_active.values()) == 1, max_active
    assert not any(t.is_alive() for t in workers)


def test_rate_limited_backoff_grows_exponentially_and_forget_resets() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.001, max_delay=0.1)
    delays = [q.add_rate_limited("a") for _ in range(10)]
    assert delays[:7] == pytest.approx([0.001 * 2**i for i in range(7)])
    assert delays[7:] == [0.1, 0.1, 0.1]  # capped
    assert q.failures("a") == 10
    assert q.add_rate_limited("b") == pytest.approx(0.001)  # per key
    q.forget("a")
    assert q.failures("a") == 0
    assert q.backoff("a") == pytest.approx(0.001)
    assert q.add_rate_limited("a") == pytest.approx(0.001)


def test_rate_limited_adds_of_a_busy_key_coalesce() -> None:
    q: WorkQueue[str] = WorkQueue(base_delay=0.001)
    q.add("a")
    assert q.get(timeout=0) == "a"  # "a" is being processed from here on
    for _ in range(3):
        q.add_rate_limited("a")  # due after 1, 2 and 4 ms
    # the adds fall due while "a" is being processed: not handed out again ...
    with pytest.raises(TimeoutError):
        q.get(timeout=0.2)
    assert not q._delayed
    # ... until done, and then only once
    q.done("a")
    assert q.get(timeout=0) == "a"
    q.done("a")
    with pytest.raises(TimeoutError):
        q.get(timeout=0)


def test_add_after_delivers_in_due_order() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("late", 0.3)
    q.add_after("early", 0.05)
    q.add_after("middle", 0.15)
    q.add("now")
    order = [q.get(timeout=5) for _ in range(4)]
    assert order == ["now", "early", "middle", "late"]


def test_add_after_zero_is_immediate_and_dedups_with_add() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("a", 0)
    q.add("a")
    assert len(q) == 1


def test_shutdown_wakes_blocked_getters() -> None:
    q: WorkQueue[str] = WorkQueue()
    q.add_after("far", 3600)
    results: list[str] = []

    def getter() -> None:
        try:
            q.get()
            results.append("got")
        except ShutDown:
            results.append("shutdown")

    threads = [threading.Thread(target=getter) for _ in range(4)]
    for t in threads:
        t.start()
    wait_for(lambda: all(t.is_alive() for t in threads), message="getters blocked")
    q.shutdown()
    for t in threads:
        t.join(5)
    assert results == ["shutdown"] * 4
    q.add("x")  # adds after shutdown are ignored
    with pytest.raises(ShutDown):
        q.get(0)
