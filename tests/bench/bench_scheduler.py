"""Scheduler benchmark (run on purpose, not in the suite):

    PYTHONPATH=$PWD python -m pytest tests/bench/bench_scheduler.py -s -o addopts="" -q

One job of count 10,000 on 1,000 simulated nodes against a real etcd: placements per second
committed end to end (evaluation written -> evaluation complete, every allocation in etcd);
the raw etcd write rate of allocation-sized JSON (128 per transaction) in the same run, and
the ratio; and the time to plan a 1,000-instance job (fresh reads and from watched caches).
"""

from __future__ import annotations

import os
import platform
import statistics
import threading
import time
from typing import Any

from controllers.scheduler.controller import SchedulerController
from controllers.scheduler.plan import PlanCache, plan_job
from reconciler import codec
from reconciler.model.ids import new_id
from reconciler.model.job import Job, Network, Port, Resources, Task, TaskGroup
from reconciler.model.objects import AllocatedPort, Allocation, Evaluation, JobRecord, Node, NodeResources
from reconciler.store import Store, StoreError, Txn, WatchEvent

COUNT = int(os.environ.get("BENCH_COUNT", "10000"))
NODES = int(os.environ.get("BENCH_NODES", "1000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def _job(job_id: str, count: int) -> Job:
    return Job(
        id=job_id,
        name=job_id,
        datacenters=["dc1"],
        task_groups=[
            TaskGroup(
                name="web",
                count=count,
                networks=[Network(ports=[Port("http")])],
                tasks=[
                    Task(
                        name="server",
                        driver="raw_exec",
                        config={"command": "/bin/sleep", "args": ["3600"]},
                        resources=Resources(cpu=100, memory=64),
                    )
                ],
            )
        ],
    )


def _sample_alloc() -> Allocation:
    return Allocation(
        id=new_id(),
        namespace="default",
        job_id="bench",
        job_version=0,
        task_group="web",
        name="bench.web[1234]",
        index=1234,
        node_id=new_id(),
        node_name="node-123",
        eval_id=new_id(),
        ports=[AllocatedPort("http", 23456, 23456, "127.0.0.1")],
        cpu=100,
        memory=64,
        create_time=time.time(),
        modify_time=time.time(),
    )


def raw_write_rate(store: Store, n: int) -> tuple[float, int]:
    value = codec.encode(_sample_alloc())
    keys = [f"{store.keys.prefix}raw/{new_id()}" for _ in range(n)]
    t0 = time.perf_counter()
    for i in range(0, n, 128):
        txn = Txn()
        for k in keys[i : i + 128]:
            txn.put(k, value)
        assert store.commit(txn)
    rate = n / (time.perf_counter() - t0)
    store.delete_prefix(f"{store.keys.prefix}raw/")
    return rate, len(value)


def add_nodes(store: Store, n: int) -> None:
    now = time.time()
    store.put_many(
        (
            store.keys.node(f"node-{i:04d}"),
            Node(
                id=f"node-{i:04d}",
                name=f"node-{i:04d}",
                datacenter="dc1",
                resources=NodeResources(cpu_mhz=4 * 2400, cores=4, memory_mb=16384),
                drivers={"raw_exec": True},
                attributes={"kernel.name": "linux"},
                create_time=now,
                modify_time=now,
            ),
        )
        for i in range(n)
    )


def submit(store: Store, job: Job, eval_id: str) -> str:
    rec = JobRecord(namespace="default", id=job.id, version=0, job=job, spec_hash="0")
    store.put(store.keys.job_version("default", job.id, 0), rec)
    store.put(store.keys.job("default", job.id), rec)
    ev = Evaluation(
        id=eval_id, namespace="default", job_id=job.id, triggered_by="job-register", create_time=time.time()
    )
    store.put(store.keys.eval(ev.id), ev)
    return ev.id


def place_once(store: Store) -> float:
    """Seconds from the evaluation's write to its completion in etcd, 10,000 placements."""
    add_nodes(store, NODES)
    sched = SchedulerController(store)
    sched.start()
    try:
        done = threading.Event()
        finished_at: list[float] = []
        watched: dict[str, str] = {}

        def on_eval(events: list[WatchEvent] | StoreError) -> None:
            # a watch, not polling: the measurement must not load the scheduler's process
            if isinstance(events, StoreError):
                return
            for e in events:
                if (
                    e.value is not None
                    and e.key == watched.get("key")
                    and codec.decode(e.value, Evaluation).status != "pending"
                    and not done.is_set()
                ):
                    finished_at.append(time.perf_counter())
                    done.set()

        ev_id = new_id()
        watched["key"] = store.keys.eval(ev_id)
        watch = store.watch(store.keys.evals, store.revision() + 1, on_eval)
        t0 = time.perf_counter()
        submit(store, _job("bench", COUNT), ev_id)
        assert done.wait(120), "placement did not finish in 120 s"
        elapsed = finished_at[0] - t0
        watch.cancel()
        got = store.get(store.keys.eval(ev_id), Evaluation)
        assert got is not None, got
        assert got.value.status == "complete", got
    finally:
        sched.stop()
    assert store.count(store.keys.allocs) == COUNT
    return elapsed


def test_scheduler_benchmark(etcd: Any, store: Store) -> None:
    rows = []
    for i in range(RUNS):
        s = store if i == 0 else Store([etcd.endpoint], prefix=f"/bench-{new_id()[:8]}/")
        elapsed = place_once(s)
        raw_rate, size = raw_write_rate(s, COUNT)  # right after the run: same etcd, same load
        rows.append((COUNT / elapsed, raw_rate))
        print(
            f"\nrun {i + 1}: {COUNT / elapsed:,.0f} placements/s ({elapsed:.2f} s); "
            f"raw {raw_rate:,.0f} puts/s; "
            f"ratio {COUNT / elapsed / raw_rate:.0%}",
            end="",
        )
        if s is not store:
            s.delete_prefix(s.keys.prefix)
            s.close()

    plan1k = _job("plan1k", 1000)
    fresh = []
    for _ in range(3):
        t = time.perf_counter()
        res = plan_job(store, plan1k)
        fresh.append(time.perf_counter() - t)
    assert res.desired_tg_updates["web"].place == 1000
    assert not res.failed_tg_allocs
    cache = PlanCache(store).start()
    cached = []
    try:
        for _ in range(5):
            t = time.perf_counter()
            res = cache.plan_job(store, plan1k)
            cached.append(time.perf_counter() - t)
    finally:
        cache.stop()
    rate = statistics.median(r for r, _ in rows)
    raw = statistics.median(w for _, w in rows)
    print(
        f"\nmachine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
        f"\nraw etcd writes: {raw:,.0f} puts/s ({size} B values, 128 per txn), median of {RUNS}"
        f"\nscheduler: {COUNT:,} placements on {NODES:,} nodes: {rate:,.0f} placements/s, median of {RUNS}"
        f" ({statistics.median(r / w for r, w in rows):.0%} of the raw write rate)"
        f"\nplan 1,000 instances (fresh reads of {COUNT:,} allocs): "
        f"median {statistics.median(fresh) * 1000:.0f} ms"
        f"\nplan 1,000 instances (watched caches): median {statistics.median(cached) * 1000:.0f} ms"
    )
