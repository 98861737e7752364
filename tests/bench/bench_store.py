"""Store and informer throughput against the real etcd (prints figures; no assertions on
speed). Run: PYTHONPATH=$PWD .venv/bin/python -m pytest tests/bench/bench_store.py -s -q -o addopts=""

Figures are recorded in docs/benchmarks.md ("Store")."""

from __future__ import annotations

import threading
import time
from typing import Any

from reconciler import codec
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import Allocation
from reconciler.runtime import Informer
from reconciler.store import MAX_TXN_OPS, Store, Watch, WatchCallback
from tests.waiting import wait_for


def alloc(i: int) -> Allocation:
    return Allocation(
        id=f"alloc-{i:06d}",
        namespace="default",
        job_id="web",
        job_version=3,
        task_group="frontend",
        name=f"web.frontend[{i}]",
        index=i,
        node_id="node-0001",
        eval_id="eval-0001",
    )


def report(name: str, n: int, seconds: float, unit: str = "ops") -> None:
    print(f"\n  {name}: {n} {unit} in {seconds:.3f}s = {n / seconds:,.0f} {unit}/s")


def test_value_size() -> None:
    print(f"\n  value size: {len(codec.encode(alloc(1)))} bytes of JSON per allocation")


def test_single_puts(store: Store) -> None:
    n = 1000
    items = [(store.keys.alloc(f"a{i:06d}"), alloc(i)) for i in range(n)]
    t0 = time.perf_counter()
    for key, value in items:
        store.put(key, value)
    report("single puts", n, time.perf_counter() - t0, "puts")


def test_batched_puts(store: Store) -> None:
    n = 20_000
    items = [(store.keys.alloc(f"a{i:06d}"), alloc(i)) for i in range(n)]
    t0 = time.perf_counter()
    store.put_many(items)
    report(f"batched puts ({MAX_TXN_OPS}/txn)", n, time.perf_counter() - t0, "puts")


def test_list_and_decode(store: Store) -> None:
    n = 10_000
    store.put_many((store.keys.alloc(f"a{i:06d}"), alloc(i)) for i in range(n))
    t0 = time.perf_counter()
    raw, _ = store.list_raw(store.keys.allocs)
    t1 = time.perf_counter()
    decoded = [codec.decode(i.value, Allocation) for i in raw]
    t2 = time.perf_counter()
    assert len(decoded) == n
    print(f"\n  list {n} keys: {t1 - t0:.3f}s; decode: {t2 - t1:.3f}s; total {t2 - t0:.3f}s")


def test_informer_event_throughput(store: Store) -> None:
    n = 20_000
    inf: Informer[Allocation] = Informer(store, store.keys.allocs, Allocation)
    inf.add_index("node", lambda a: [a.node_id])
    seen = [0]
    inf.add_handler(lambda k, o, n_: seen.__setitem__(0, seen[0] + 1))
    inf.start()
    try:
        assert inf.wait_synced(10)
        items = [(store.keys.alloc(f"a{i:06d}"), alloc(i)) for i in range(n)]
        t0 = time.perf_counter()
        store.put_many(items)
        t_written = time.perf_counter()
        wait_for(lambda: seen[0] >= n, timeout=120, interval=0.001, message="every event delivered")
        t1 = time.perf_counter()
        assert len(inf.list()) == n
        report("informer events (batched writes, delivered into cache)", n, t1 - t0, "events")
        print(f"    (writing took {t_written - t0:.3f}s of that)")

        # single writes: the informer keeps up with the writer
        m = 1000
        t0 = time.perf_counter()
        for i in range(m):
            store.put(store.keys.alloc(f"b{i:06d}"), alloc(i))
        wait_for(lambda: seen[0] >= n + m, timeout=60, interval=0.001, message="single-write events")
        report("informer events (single writes, write to cache)", m, time.perf_counter() - t0, "events")
    finally:
        inf.stop()


class GatedStore(Store):
    """Holds an informer's re-watch until the test opens the gate."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()

    def watch(self, prefix: str, start_revision: int, callback: WatchCallback, **kw: Any) -> Watch:
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait()
        return super().watch(prefix, start_revision, callback, **kw)


def test_informer_catch_up_throughput(etcd: EmbeddedEtcd, store: Store) -> None:
    """Delivery capacity alone: 20,000 events already in etcd, replayed from the informer's
    revision after its watch was broken (as after an etcd restart)."""
    n = 20_000
    gated = GatedStore([etcd.endpoint], prefix=store.keys.prefix)
    inf: Informer[Allocation] = Informer(gated, store.keys.allocs, Allocation)
    inf.add_index("node", lambda a: [a.node_id])
    seen = [0]
    inf.add_handler(lambda k, o, n_: seen.__setitem__(0, seen[0] + 1))
    inf.start()
    try:
        assert inf.wait_synced(10)
        gated.gate.clear()
        gated.close()  # breaks the watch; the re-watch waits at the gate
        wait_for(gated.waiting.is_set, message="re-watch to wait at the gate")
        store.put_many((store.keys.alloc(f"a{i:06d}"), alloc(i)) for i in range(n))
        t0 = time.perf_counter()
        gated.gate.set()
        wait_for(lambda: seen[0] >= n, timeout=120, interval=0.001, message="backlog delivered")
        assert len(inf.list()) == n
        report(
            "informer catch-up (backlog replayed into cache + index)", n, time.perf_counter() - t0, "events"
        )
    finally:
        gated.gate.set()
        inf.stop()
        gated.close()
