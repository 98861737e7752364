"""API read benchmark (run on purpose: `make bench`, or
`PYTHONPATH=$PWD .venv/bin/python -m pytest tests/bench/bench_reads.py -s -o addopts="" -q`).

10,000 allocations (with their statuses) of 100 jobs on 1,000 nodes are written to the
test's etcd, and the Nomad API is served by its own process (`python -m
tests.bench.bench_reads`). Then, with one keep-alive client:
  - `GET /v1/job/<id>/allocations` (100 allocations) and `GET /v1/allocations` (10,000):
    median and p99, warm (the rendered answer kept for the state) and cold (a query
    parameter of its own per request, so each one is rendered from the caches);
  - the peer: the raw etcd range read of the same keys (allocations and their statuses);
  - 1,000 concurrent blocking queries on one job's allocations: the agent's added RSS, the
    time from one allocation status change to the first, the median and all 1,000 answered,
    and the CPU time the API process spent meanwhile (a figure the machine's load changes less).
Reports the issue's targets (p50 of 100 allocations under 5 ms, all 1,000 answered within
200 ms) as met or missed: on a shared machine they measure its load. Fails when a blocked
query is not answered or the 1,000 add 100 MB or more. `BENCH_ROUNDS` (300) sets the
requests per latency figure, `BENCH_WAITERS` (1000) the blocked queries, and
`BENCH_PROFILE=<file>` writes the API process's cProfile stats there.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import etcd3
import pytest

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import Allocation, AllocStatus, Node, TaskState
from reconciler.store import Store
from tests.ports import free_port
from tests.waiting import wait_for

JOBS, PER_JOB, NODES = 100, 100, 1000
WAITERS = int(os.environ.get("BENCH_WAITERS", "1000"))
ROUNDS_SMALL = int(os.environ.get("BENCH_ROUNDS", "300"))
ROUNDS_BIG = max(2, ROUNDS_SMALL // 15)
P50_SMALL_MS, ALL_ANSWERED_MS, ADDED_MB = 5.0, 200.0, 100.0


def alloc_id(job: int, i: int) -> str:
    """Ids that sort by job, so one job's allocations are one etcd key range (the peer)."""
    return f"j{job:03d}-{i:03d}-0000-4000-8000-000000000000"


def populate(store: Store) -> None:
    store.put_many(
        (store.keys.node(f"node-{n:04d}"), Node(id=f"node-{n:04d}", name=f"node-{n:04d}"))
        for n in range(NODES)
    )
    allocs, statuses = [], []
    for j in range(JOBS):
        for i in range(PER_JOB):
            node = f"node-{(j * PER_JOB + i) % NODES:04d}"
            a = Allocation(
                id=alloc_id(j, i),
                namespace="default",
                job_id=f"job-{j:03d}",
                job_version=0,
                task_group="web",
                name=f"job-{j:03d}.web[{i}]",
                index=i,
                node_id=node,
                create_time=1_700_000_000.0 + i,
            )
            allocs.append((store.keys.alloc(a.id), a))
            st = AllocStatus(
                alloc_id=a.id, node_id=node, client_status="running", task_states={"web": TaskState()}
            )
            statuses.append((store.keys.alloc_status(a.id), st))
    store.put_many(allocs)
    store.put_many(statuses)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def cpu_ms(pid: int) -> float:
    """CPU time a process has run, all its threads (the scheduler's nanoseconds, finer than
    the 10 ms ticks of /proc/<pid>/stat): what it spent, whatever the machine's load."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
    return total / 1e6


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(median, p99) in milliseconds."""
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    out.sort()
    return statistics.median(out), out[min(len(out) - 1, int(len(out) * 0.99))]


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        self.conn.request("GET", path)
        resp = self.conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()


@pytest.fixture
def agent(etcd: EmbeddedEtcd, store: Store) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    populate(store)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.bench.bench_reads", etcd.endpoint, store.keys.prefix, str(port)],
        env=env,
    )
    try:

        def up() -> bool:
            try:
                return Client(port).get("/v1/agent/self")[0] == 200
            except OSError:
                return False

        wait_for(up, 60, message="the API process answers")
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(30)


class Held(asyncio.Protocol):
    """One blocking query on a connection of its own, read with as little client work as
    can be (a protocol, no task, no response object): the figure is then the server's, not
    an HTTP client library's (aiohttp's client took twice the API's CPU per answer)."""

    def __init__(self, request: bytes, answered: Callable[[int], None]) -> None:
        self.request = request
        self.answered = answered
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        head, sep, body = self.buf.partition(b"\r\n\r\n")
        if not sep:
            return
        headers = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])
        )
        if len(body) < int(headers[b"content-length"]):
            return
        self.answered(int(headers[b"x-nomad-index"]))  # the connection is closed after all answered


async def hold_many(
    port: int, path: str, index: int, n: int, change: Callable[[], None], pid: int
) -> dict[str, float]:
    """n blocking queries held at `index`; then one change; how long until all answer."""
    loop = asyncio.get_running_loop()
    before = rss_mb(pid)
    answered: list[float] = []
    all_in = loop.create_future()
    request = f"GET {path}?index={index}&wait=60s HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    def one_answered(got: int) -> None:
        assert got > index
        answered.append(time.perf_counter())
        if len(answered) == n:
            all_in.set_result(None)

    conns = [
        await loop.create_connection(lambda: Held(request, one_answered), "127.0.0.1", port) for _ in range(n)
    ]

    def blocked() -> int:
        return int(json.loads(Client(port).get("/v1/agent/self")[2])["stats"]["api"]["blocked_queries"])

    deadline = time.monotonic() + 60
    while blocked() < n:  # every query held by the agent
        assert time.monotonic() < deadline, f"only {blocked()} of {n} queries held after 60 s"
        await asyncio.sleep(0.2)
    held = rss_mb(pid)
    cpu0, mine0, t0 = cpu_ms(pid), cpu_ms(os.getpid()), time.perf_counter()
    await asyncio.to_thread(change)
    await asyncio.wait_for(all_in, 120)
    cpu, mine = cpu_ms(pid) - cpu0, cpu_ms(os.getpid()) - mine0
    for transport, _ in conns:
        transport.close()
    answered.sort()
    return {
        "added_mb": held - before,
        "first_answered_ms": (answered[0] - t0) * 1000,
        "median_answered_ms": (answered[len(answered) // 2] - t0) * 1000,
        "all_answered_ms": (answered[-1] - t0) * 1000,
        "answered": len(answered),
        "api_cpu_ms": cpu,
        "client_cpu_ms": mine,
    }


def test_reads_from_the_caches(
    agent: tuple[subprocess.Popen[bytes], int], store: Store, etcd: EmbeddedEtcd
) -> None:
    proc, port = agent
    c = Client(port)
    one_job = "/v1/job/job-007/allocations"
    wait_for(
        lambda: len(json.loads(c.get("/v1/allocations")[2])) == JOBS * PER_JOB, 60, message="cache filled"
    )
    n = iter(range(10**9))
    rows: list[tuple[str, float, float]] = []
    rows.append(
        ("job allocations (100), cold", *timed(lambda: c.get(f"{one_job}?x={next(n)}"), ROUNDS_SMALL))
    )
    rows.append(("job allocations (100), warm", *timed(lambda: c.get(one_job), ROUNDS_SMALL)))
    keys = store.keys
    host, _, etcd_port = etcd.endpoint.rpartition("//")[2].partition(":")
    raw = etcd3.client(
        host=host, port=int(etcd_port), grpc_options=[("grpc.max_receive_message_length", 256 * 1024 * 1024)]
    )

    def peer_job() -> None:
        for prefix in (keys.allocs, keys.alloc_statuses):
            list(raw.get_prefix(prefix + "j007-"))

    rows.append(
        ("peer: etcd range read of the job's 100 allocations + statuses", *timed(peer_job, ROUNDS_SMALL))
    )
    rows.append(
        ("all allocations (10,000), cold", *timed(lambda: c.get(f"/v1/allocations?x={next(n)}"), ROUNDS_BIG))
    )
    rows.append(("all allocations (10,000), warm", *timed(lambda: c.get("/v1/allocations"), ROUNDS_BIG)))

    def peer_all() -> None:
        for prefix in (keys.allocs, keys.alloc_statuses):
            list(raw.get_prefix(prefix))

    rows.append(("peer: etcd range read of 10,000 allocations + statuses", *timed(peer_all, ROUNDS_BIG)))

    index = int(c.get(one_job)[1]["X-Nomad-Index"])
    target = alloc_id(7, 0)

    def change() -> None:
        st = AllocStatus(
            alloc_id=target, node_id="node-0700", client_status="failed", task_states={"web": TaskState()}
        )
        store.put(keys.alloc_status(target), st)

    held = asyncio.run(hold_many(port, one_job, index, WAITERS, change, proc.pid))
    raw.close()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"\n== API reads ({platform.node()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load {load})"
    )
    for name, p50, p99 in rows:
        print(f"  {name:<62} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms")
    print(
        f"  {WAITERS} blocking queries on one job: {held['added_mb']:.1f} MB added RSS, all answered "
        f"{held['all_answered_ms']:.0f} ms after one allocation change"
    )
    print(
        f"  {'':<{len(str(WAITERS))}} first answered {held['first_answered_ms']:.0f} ms, median "
        f"{held['median_answered_ms']:.0f} ms; CPU used meanwhile: the API process "
        f"{held['api_cpu_ms']:.0f} ms, the clients (this process) {held['client_cpu_ms']:.0f} ms"
    )
    # timing targets are reported, not asserted: on a shared machine they measure its load
    for what, value, target in (
        ("p50 of one job's 100 allocations (cold)", rows[0][1], P50_SMALL_MS),
        ("all blocked queries answered", held["all_answered_ms"], ALL_ANSWERED_MS),
    ):
        print(f"  target {what} < {target:g} ms: {'met' if value < target else 'MISSED'} ({value:.1f} ms)")
    assert held["answered"] == WAITERS
    assert held["added_mb"] < ADDED_MB


def serve(endpoint: str, prefix: str, port: int) -> None:
    """The API's own process: make_app on a Store of the benchmark's etcd."""
    from aiohttp import web

    from reconciler.api.app import make_app
    from reconciler.api.context import ApiContext

    store = Store([endpoint], prefix=prefix)
    ctx = ApiContext(store=store, data_dir=Path(tempfile.mkdtemp(prefix="bench-reads-")), node_name="bench")
    profile = os.environ.get("BENCH_PROFILE")  # a file: the API process's cProfile stats
    if not profile:
        web.run_app(make_app(ctx), host="127.0.0.1", port=port, access_log=None, print=None)
        return
    import cProfile

    with cProfile.Profile() as prof:
        web.run_app(make_app(ctx), host="127.0.0.1", port=port, access_log=None, print=None)
    prof.dump_stats(profile)


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
