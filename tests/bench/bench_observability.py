"""Metrics and event stream benchmark (run on purpose, not in the test suite):

    PYTHONPATH=. python tests/bench/bench_observability.py [--jobs 100] [--count 100] [--nodes 1000]

1. `GET /v1/metrics?format=prometheus` with `--jobs` jobs of `--count` running allocations
   on `--nodes` nodes in a real embedded etcd: median and max of 10 scrapes each after one
   allocation status changed (the cluster gauges computed anew from the API's caches), of 10
   of an unchanged cluster (computed once per state), and the etcd requests they made (none).
2. The event stream: from a client status write to its `AllocationUpdated` frame reaching a
   subscriber, 50 writes, median and p90.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from prometheus_client import REGISTRY

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.ids import AllocId, NodeId
from reconciler.model.objects import Allocation, AllocStatus, ClientStatus, Node
from reconciler.ops.jobs import submit_job
from reconciler.store import Store
from tests.api.server import make_server
from tests.events.stream import EventReader
from tests.factories import submitted_job
from tests.ports import free_port
from tests.waiting import wait_for


def fill(store: Store, jobs: int, count: int, nodes: int) -> list[Allocation]:
    store.put_many((store.keys.node(f"n{i}"), Node(id=NodeId(f"n{i}"), name=f"n{i}")) for i in range(nodes))
    for j in range(jobs):
        submit_job(store, submitted_job(f"job{j}", count=count))
    allocs = [
        Allocation(
            id=AllocId(f"a{j}-{i}"),
            namespace="default",
            job_id=f"job{j}",
            job_version=0,
            task_group="web",
            name=f"job{j}.web[{i}]",
            index=i,
            node_id=NodeId(f"n{(j * count + i) % nodes}"),
        )
        for j in range(jobs)
        for i in range(count)
    ]
    store.put_many((store.keys.alloc(a.id), a) for a in allocs)
    running = ClientStatus.RUNNING
    store.put_many(
        (store.keys.alloc_status(a.id), AllocStatus(alloc_id=a.id, node_id=a.node_id, client_status=running))
        for a in allocs
    )
    return allocs


def etcd_requests() -> float:
    """The etcd requests this process's stores have made (reconciler_etcd_request_seconds)."""
    return sum(
        s.value
        for f in REGISTRY.collect()
        if f.name == "reconciler_etcd_request_seconds"
        for s in f.samples
        if s.name.endswith("_count")
    )


def scrape(address: str) -> bytes:
    with urllib.request.urlopen(address + "/v1/metrics?format=prometheus", timeout=60) as r:
        return bytes(r.read())


def run(jobs: int, count: int, nodes: int) -> None:
    args = argparse.Namespace(jobs=jobs, count=count, nodes=nodes)
    d = Path(tempfile.mkdtemp())
    etcd = EmbeddedEtcd(data_dir=d / "etcd", client_port=free_port(), peer_port=free_port(), name="bench")
    etcd.start()
    store = Store([etcd.endpoint])
    try:
        allocs = fill(store, args.jobs, args.count, args.nodes)
        api = make_server(store, d)
        try:
            for changed in (True, False):
                times, requests, body = [], 0.0, b""
                for a in allocs[:10]:
                    if changed:  # written before the clock starts; the scrape waits for the cache
                        st = AllocStatus(alloc_id=a.id, node_id=a.node_id, client_status=ClientStatus.FAILED)
                        store.put(store.keys.alloc_status(a.id), st)
                    before, t = etcd_requests(), time.perf_counter()
                    body = scrape(api.address)
                    times.append(time.perf_counter() - t)
                    requests += etcd_requests() - before
                print(
                    f"scrape, {len(allocs)} allocations on {args.nodes} nodes, {args.jobs} jobs, "
                    f"{'each after one change' if changed else 'unchanged'}: "
                    f"median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, "
                    f"{len(body)} bytes, {requests:.0f} etcd requests"
                )
            with EventReader(api.address, topic=["Allocation"]) as reader:
                wait_for(reader.snapshot)
                lat = []
                for a in allocs[:50]:
                    st = AllocStatus(alloc_id=a.id, node_id=a.node_id, client_status=ClientStatus.COMPLETE)
                    t = time.perf_counter()
                    rev = store.put(store.keys.alloc_status(a.id), st)
                    wait_for(lambda rev=rev: any(e["Index"] == rev for e in reader.events()), interval=0.0005)
                    lat.append(time.perf_counter() - t)
                lat.sort()
                print(
                    f"event stream, write to frame: median {statistics.median(lat) * 1000:.1f} ms, "
                    f"p90 {lat[int(len(lat) * 0.9)] * 1000:.1f} ms (50 writes)"
                )
        finally:
            api.stop()
    finally:
        store.close()
        etcd.stop()


def test_bench_observability() -> None:
    run(100, 100, 1000)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--jobs", type=int, default=100)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--nodes", type=int, default=1000)
    a = p.parse_args()
    run(a.jobs, a.count, a.nodes)
