"""Node-loss benchmark at scale (run on purpose: `make bench`, or
`PYTHONPATH=$PWD python -m pytest tests/bench/bench_nodes.py -s -o addopts="" -q`).

A real server agent process (`reconciler agent -server`: scheduler, liveness, deployments,
gc, API) against the bench's etcd; 1,000 simulated client nodes in this process, each
registered by the node agent's own `Heartbeat` (its node record, and its heartbeat key on a
lease) and its lease refreshed every TTL/3 as the agent does (see `Nodes`);
100 jobs of count 100 registered through the API (10,000 allocations), and the client
status `running` written for each, as the node agents would. Then nodes (those holding
the most allocations) die, three times:

- one node revoked: its lease revoked (as etcd does when its TTL runs out; its keepalive
  stopped just before): the time from there until every allocation is replaced (desired
  `run` on live nodes only, all 10,000), which is what the single-node target's "+ 2 s" allows;
- 100 nodes revoked together: the same;
- 100 more go silent (their keepalives stop: hosts lost): the same, from the moment they
  stopped, and from the moment their last lease ended.

For each: when the heartbeats vanished and the nodes were marked down, the server process's
CPU seconds, etcd's (from /proc), etcd's gRPC requests (its /metrics) and revisions, and
the evaluations created and processed (the server's `/v1/metrics`). Printed beside its peer
measured in the same run: a raw etcd write of as many allocation-sized values as the
replacement wrote (128 per transaction), and the idle load of 1,000 heartbeating nodes.
The counters a window's load is read from are tests/bench/server_load.py.
"""

from __future__ import annotations

import itertools
import os
import platform
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controllers.driver_runner.node import Heartbeat
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.objects import (
    Allocation,
    AllocStatus,
    ClientStatus,
    DesiredStatus,
    Evaluation,
    Node,
    NodeResources,
    NodeStatus,
)
from reconciler.runtime import Informer
from reconciler.store import Store, StoreError
from tests.agent.harness import AgentProcess
from tests.bench.bench_scheduler import raw_write_rate
from tests.bench.server_load import Load, Probe
from tests.waiting import wait_for

NODES = int(os.environ.get("BENCH_NODES", "1000"))
JOBS = int(os.environ.get("BENCH_JOBS", "100"))
COUNT = int(os.environ.get("BENCH_JOB_COUNT", "100"))
DEAD = int(os.environ.get("BENCH_DEAD", "100"))
TTL = int(os.environ.get("BENCH_HEARTBEAT_TTL", "10"))  # the node agent's default lease
IDLE = 5.0  # seconds of the idle window measured before the first loss
# 15 allocations of 100 MHz fit a node: 10,000 spread over at least 667 nodes, and the
# 799 left after the three losses (1 + 100 + 100) still hold them all
NODE_MHZ = 1500
ALL = JOBS * COUNT


def _node(i: int) -> Node:
    nid = f"sim-{i:04d}"
    return Node(
        id=nid,  # type: ignore[arg-type]
        name=nid,
        datacenter="dc1",
        resources=NodeResources(cpu_mhz=NODE_MHZ, cores=1, memory_mb=16384),
        drivers={"raw_exec": True},
        attributes={"kernel.name": "linux"},
    )


def _job(i: int) -> dict[str, Any]:
    name = f"web-{i:03d}"
    return {
        "Job": {
            "ID": name,
            "Name": name,
            "Type": "service",
            "Datacenters": ["dc1"],
            "TaskGroups": [
                {
                    "Name": "web",
                    "Count": COUNT,
                    "Tasks": [
                        {
                            "Name": "server",
                            "Driver": "raw_exec",
                            "Config": {"command": "/bin/sleep", "args": ["3600"]},
                            "Resources": {"CPU": 100, "MemoryMB": 64},
                        }
                    ],
                }
            ],
        }
    }


KEEPERS = 8  # threads refreshing the simulated nodes' leases


class Nodes:
    """The simulated client nodes: each registered by the node agent's own `Heartbeat` (the
    node record, and the heartbeat key on a lease of TTL seconds), each lease refreshed
    every TTL/3 as the agent's `KeptLease` does, by KEEPERS threads between them rather than
    a thread per node (a thousand threads in one process would starve it, and the machine,
    of CPU: not what a thousand hosts do to a server)."""

    def __init__(self, store: Store, n: int) -> None:
        self.beats = {f"sim-{i:04d}": Heartbeat(store, _node(i), ttl=TTL) for i in range(n)}
        self.dead: set[str] = set()  # nodes whose keepalives stopped
        self.failed = 0  # refreshes that failed (a lease lost: the bench is invalid)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        with ThreadPoolExecutor(max_workers=32, thread_name_prefix="sim-node") as pool:
            list(pool.map(lambda hb: hb.register(), self.beats.values()))
        ids = sorted(self.beats)
        for k in range(KEEPERS):
            t = threading.Thread(target=self._keep, args=(ids[k::KEEPERS],), name=f"sim-keeper-{k}")
            t.start()
            self._threads.append(t)

    def _keep(self, ids: list[str]) -> None:
        """Refresh each lease every TTL/3, the nodes spread evenly over that period."""
        period = TTL / 3
        start = time.monotonic()
        for rnd in itertools.count():
            for i, nid in enumerate(ids):
                due = start + (rnd + i / len(ids)) * period
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    return
                lease = self.beats[nid].lease
                if nid in self.dead or lease is None:
                    continue
                try:
                    lease.refresh(retry_for=period)
                except StoreError:
                    self.failed += 1

    def silence(self, ids: list[str]) -> None:
        """Stop these nodes' keepalives together (their leases run out after the TTL)."""
        self.dead |= set(ids)

    def revoke(self, ids: list[str]) -> None:
        """Revoke these nodes' leases together (their keepalives stopped first)."""
        leases = [lease for nid in ids if (lease := self.beats[nid].lease) is not None]
        with ThreadPoolExecutor(max_workers=len(ids), thread_name_prefix="sim-kill") as pool:
            assert all(pool.map(lambda lease: lease.revoke(), leases))

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
        with ThreadPoolExecutor(max_workers=32, thread_name_prefix="sim-node") as pool:
            list(pool.map(lambda hb: hb.stop(revoke=True), self.beats.values()))


@dataclass
class Loss:
    """One loss of nodes and what it cost."""

    how: str
    nodes: int
    lost_allocs: int
    heartbeats_gone: float  # seconds from the loss
    marked_down: float
    replaced: float
    load: Load
    evals_created: int
    writes: int  # allocations written: the lost ones stopped and their replacements


class Watch:
    """Informers on nodes, heartbeats, allocations and evaluations (the bench's view)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.nodes = Informer(store, store.keys.nodes, Node, name="bench-nodes")
        self.beats = Informer(store, store.keys.heartbeats, bytes, name="bench-heartbeats")
        self.allocs = Informer(store, store.keys.allocs, Allocation, name="bench-allocs")
        self.allocs.add_index("node", lambda a: [a.node_id])
        self.evals = Informer(store, store.keys.evals, Evaluation, name="bench-evals")
        self.all = (self.nodes, self.beats, self.allocs, self.evals)

    def __enter__(self) -> Watch:
        for i in self.all:
            i.start()
        for i in self.all:
            assert i.wait_synced(30), i.name
        return self

    def __exit__(self, *exc: object) -> None:
        for i in self.all:
            i.stop()

    def running(self) -> list[Allocation]:
        return [a for a in self.allocs.list() if a.desired_status == DesiredStatus.RUN]

    def placed_on_live(self, dead: set[str]) -> bool:
        # the dead nodes' allocations first (cheap): the poll must not starve this
        # process's keepalive threads
        on_dead = (a for d in dead for a in self.allocs.by_index("node", d))
        if any(a.desired_status == DesiredStatus.RUN for a in on_dead):
            return False
        run = self.running()
        return len(run) == ALL and not any(a.node_id in dead for a in run)

    def beats_gone(self, dead: set[str]) -> bool:
        return not any(self.store.keys.last_segment(i.key) in dead for i in self.beats.items())

    def down(self, dead: set[str]) -> bool:
        return all(
            (n := self.nodes.get(self.store.keys.node(d))) and n.status == NodeStatus.DOWN for d in dead
        )


def _milestones(conds: dict[str, Callable[[], bool]], since: float, timeout: float) -> dict[str, float]:
    """Seconds from `since` at which each condition first held (polled every 20 ms)."""
    seen: dict[str, float] = {}

    def all_seen() -> bool:
        for name, cond in conds.items():
            if name not in seen and cond():
                seen[name] = time.monotonic() - since
        return len(seen) == len(conds)

    wait_for(
        all_seen, timeout, interval=0.02, message=lambda: f"milestones {sorted(seen)} of {sorted(conds)}"
    )
    return seen


def lose(nodes: Nodes, watch: Watch, probe: Probe, how: str, dead: list[str]) -> Loss:
    gone = set(dead)
    lost = [a for a in watch.running() if a.node_id in gone]
    evals_before = {e.id for e in watch.evals.list()}
    if how == "revoked":
        nodes.silence(dead)  # the leases stay good for 2/3 of their TTL at least
    probe.start()
    t0 = time.monotonic()
    if how == "revoked":
        nodes.revoke(dead)
    else:
        nodes.silence(dead)
    seen = _milestones(
        {
            "heartbeats": lambda: watch.beats_gone(gone),
            "down": lambda: watch.down(gone),
            "replaced": lambda: watch.placed_on_live(gone),
        },
        t0,
        TTL + 120,
    )
    load = probe.stop()
    created = [e for e in watch.evals.list() if e.id not in evals_before]
    return Loss(
        how,
        len(dead),
        len(lost),
        seen["heartbeats"],
        seen["down"],
        seen["replaced"],
        load,
        len(created),
        2 * len(lost),
    )


def _fullest(watch: Watch, n: int, exclude: set[str]) -> list[str]:
    per: dict[str, int] = {}
    for a in watch.running():
        if a.node_id not in exclude:
            per[a.node_id] = per.get(a.node_id, 0) + 1
    return sorted(per, key=lambda k: -per[k])[:n]


def _place(server: AgentProcess, store: Store, watch: Watch) -> float:
    t0 = time.monotonic()
    for i in range(JOBS):
        server.request("POST", "/v1/jobs", _job(i))
    wait_for(lambda: len(watch.running()) == ALL, 600, interval=0.1, message=f"{ALL} allocations placed")
    elapsed = time.monotonic() - t0
    # the client status each node agent would report
    now = time.time()
    store.put_many(
        (
            store.keys.alloc_status(a.id),
            AllocStatus(
                alloc_id=a.id, node_id=a.node_id, client_status=ClientStatus.RUNNING, modify_time=now
            ),
        )
        for a in watch.running()
    )
    return elapsed


@pytest.fixture
def server(etcd: EmbeddedEtcd, prefix: str, tmp_path: Path) -> Iterator[AgentProcess]:
    agent = AgentProcess(
        tmp_path / "server",
        mode=["-server"],
        etcd=etcd.endpoint,
        node_name="bench-server",
        extra_args=["--prefix", prefix],
    )
    agent.root.mkdir()
    agent.start(timeout=60)
    yield agent
    agent.stop()


def _line(loss: Loss, raw_seconds: float) -> str:
    ld = loss.load
    lease = "" if loss.how == "revoked" else f"TTL {TTL} s + "
    return (
        f"\n{loss.nodes} node{'s' if loss.nodes > 1 else ''} {loss.how} "
        f"({loss.lost_allocs:,} allocations on them), seconds from the loss: "
        f"heartbeats gone {loss.heartbeats_gone:.2f}, marked down {loss.marked_down:.2f}, "
        f"all replaced {loss.replaced:.2f} = {loss.replaced - loss.heartbeats_gone:.2f} s after the "
        f"last lease ended (single-node target: 2 s after the lease; "
        f"peer: {lease}a raw write of {loss.writes:,} values {raw_seconds:.2f} s)"
        f"\n  load over {ld.seconds:.1f} s: server process {ld.server_cpu:.2f} CPU s, "
        f"etcd {ld.etcd_cpu:.2f} CPU s, "
        f"{ld.rpcs:,.0f} etcd requests + {ld.keepalives:,.0f} keepalives, {ld.revisions:,} revisions, "
        f"evaluations {loss.evals_created:,} created / {ld.evals_processed:,.0f} processed"
    )


def test_node_loss_at_scale(etcd: EmbeddedEtcd, store: Store, server: AgentProcess) -> None:
    nodes = Nodes(store, NODES)
    probe = Probe(store, etcd, server)
    losses: list[tuple[Loss, float]] = []
    try:
        t = time.monotonic()
        nodes.start()
        registered = time.monotonic() - t
        with Watch(store) as watch:
            placing = _place(server, store, watch)
            probe.start()
            threading.Event().wait(IDLE)  # a measured window, not a synchronisation
            idle = probe.stop()
            gone: set[str] = set()
            for how, n in (("revoked", 1), ("revoked", DEAD), ("silent", DEAD)):
                dead = _fullest(watch, n, gone)
                gone |= set(dead)
                loss = lose(nodes, watch, probe, how, dead)
                raw_rate, _ = raw_write_rate(store, loss.writes)  # right after: same etcd, same load
                losses.append((loss, loss.writes / raw_rate))
    finally:
        nodes.stop()
    print(
        f"\nmachine: {platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
        f"\n{NODES:,} simulated nodes (heartbeat lease TTL {TTL} s) registered in {registered:.1f} s; "
        f"{JOBS} jobs x {COUNT} = {ALL:,} allocations placed in {placing:.1f} s"
        f"\nidle, {NODES:,} nodes heartbeating: server {idle.server_cpu / idle.seconds:.2f} CPU s/s, "
        f"etcd {idle.etcd_cpu / idle.seconds:.2f} CPU s/s, "
        f"{idle.keepalives / idle.seconds:,.0f} keepalives/s, "
        f"{idle.revisions} revisions in {idle.seconds:.1f} s"
        + "".join(_line(loss, raw) for loss, raw in losses)
    )
    assert all(loss.lost_allocs > 0 for loss, _ in losses)
    assert nodes.failed == 0, f"{nodes.failed} lease refreshes of live nodes failed"
