"""Node agent benchmark (run on purpose, not in the test suite):

    PYTHONPATH=. python tests/bench/bench_driver.py [--runs 20] [--many 100]
    PYTHONPATH=. python tests/bench/bench_driver.py --apply http://127.0.0.1:4646 [--runs 20]

1. Over `--runs` runs: the time from writing a count-5 `raw_exec` allocation set (the job
   version record plus 5 allocations, one batched write, as the scheduler does) until all
   5 AllocStatus records say `running` (seen through a watch). Median and p95.
2. The time to start `--many` allocations on one node (one write, until all are running).

A real embedded etcd and real processes (`sleep`), no scheduler: this measures the node
agent's share of `reconciler apply` -> running.

With `--apply ADDRESS` it measures the whole path instead, against a running agent
(`reconciler agent -dev`): from POST /v1/jobs of a count-5 raw_exec job (what
`reconciler apply` sends) until GET /v1/job/<id>/allocations shows 5 running (polled every
20 ms), then stops the job. Needs the spec package (HCL parsing) and the scheduler.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from controllers.driver_runner import NodeAgent
from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.model.ids import new_id
from reconciler.model.job import SECOND, Job, Network, Port, Task, TaskGroup
from reconciler.model.objects import AllocatedPort, Allocation, AllocStatus, DesiredStatus, JobRecord
from reconciler.runtime import Informer
from reconciler.store import Store
from tests.ports import free_port

SLEEP = shutil.which("sleep") or "/bin/sleep"


class Watcher:
    """Counts allocations whose status is `want`, through an informer (a watch)."""

    def __init__(self, store: Store) -> None:
        self.inf: Informer[AllocStatus] = Informer(store, store.keys.alloc_statuses, AllocStatus)
        self.cond = threading.Condition()
        self.inf.add_handler(self._on)
        self.inf.start()
        self.inf.wait_synced(10)

    def _on(self, key: str, old: AllocStatus | None, new: AllocStatus | None) -> None:
        with self.cond:
            self.cond.notify_all()

    def wait(self, ids: list[str], want: str, timeout: float = 60) -> None:
        def done() -> bool:
            for i in ids:
                s = self.inf.get(self.inf.store.keys.alloc_status(i))
                if s is None or s.client_status != want:
                    return False
            return True

        with self.cond:
            if not self.cond.wait_for(done, timeout):
                raise TimeoutError(f"allocations not {want} after {timeout}s")


def job(job_id: str, count: int) -> Job:
    t = Task(
        name="t", driver="raw_exec", config={"command": SLEEP, "args": ["3600"]}, kill_timeout=2 * SECOND
    )
    return Job(
        id=job_id,
        type="service",
        task_groups=[
            TaskGroup(name="g", count=count, tasks=[t], networks=[Network(ports=[Port(label="http")])])
        ],
    )


def write_set(store: Store, node_id: str, j: Job, base_port: int) -> list[Allocation]:
    rec = JobRecord(namespace="default", id=j.id, version=0, job=j, spec_hash="bench")
    g = j.task_groups[0]
    allocs = [
        Allocation(
            id=new_id(),
            namespace="default",
            job_id=j.id,
            job_version=0,
            task_group="g",
            name=f"{j.id}.g[{i}]",
            index=i,
            node_id=node_id,
            ports=[AllocatedPort("http", base_port + i)],
            create_time=time.time(),
        )
        for i in range(g.count)
    ]
    items: list[tuple[str, object]] = [(store.keys.job_version("default", j.id, 0), rec)]
    items += [(store.keys.alloc(a.id), a) for a in allocs]
    store.put_many(items)
    return allocs


def stop_set(store: Store, w: Watcher, allocs: list[Allocation]) -> None:
    for a in allocs:
        a.desired_status = DesiredStatus.STOP
    store.put_many([(store.keys.alloc(a.id), a) for a in allocs])
    w.wait([a.id for a in allocs], "complete", 120)
    for a in allocs:
        store.delete(store.keys.alloc(a.id))


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


JOB_HCL = """
job "%s" {
  datacenters = ["*"]
  group "web" {
    count = 5
    network {
      port "http" {}
    }
    task "server" {
      driver = "raw_exec"
      config {
        command = "%s"
        args    = ["3600"]
      }
      resources {
        cpu    = 20
        memory = 16
      }
    }
  }
}
"""


def bench_apply(address: str, runs: int) -> None:
    from reconciler import spec  # the spec package: parsing and Nomad JSON
    from reconciler.cli.client import ApiClient

    api = ApiClient(address)
    times = []
    for r in range(runs):
        jid = f"bench-{new_id()[:8]}-{r}"
        model = spec.parse_job(JOB_HCL % (jid, SLEEP), filename=f"{jid}.nomad")  # type: ignore[attr-defined]
        body = {"Job": spec.job_to_nomad(model)}  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        api.post("/v1/jobs", body)
        while True:
            allocs = api.get(f"/v1/job/{jid}/allocations")
            if len(allocs) == 5 and all(a.get("ClientStatus") == "running" for a in allocs):
                break
            time.sleep(0.02)
        times.append((time.perf_counter() - t0) * 1000)
        api.delete(f"/v1/job/{jid}", purge="true")
        time.sleep(1.0)
    print(
        f"apply (POST /v1/jobs) count-5 raw_exec -> all running, {runs} runs: "
        f"median {statistics.median(times):.0f} ms, p95 {pct(times, 95):.0f} ms, "
        f"min {min(times):.0f} ms, max {max(times):.0f} ms"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--many", type=int, default=100)
    ap.add_argument("--apply", default="", help="measure POST /v1/jobs -> running against this agent")
    args = ap.parse_args()
    if args.apply:
        bench_apply(args.apply, args.runs)
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-driver-"))
    etcd = EmbeddedEtcd(data_dir=tmp / "etcd", client_port=free_port(), peer_port=free_port(), name="bench")
    etcd.start()
    store = Store([etcd.endpoint], prefix="/bench/")
    agent = NodeAgent(store, data_dir=tmp / "data", node_name="bench", raw_exec_enabled=True)
    agent.start()
    w = Watcher(store)
    try:
        times = []
        for r in range(args.runs):
            t0 = time.perf_counter()
            allocs = write_set(store, agent.node_id, job(f"bench{r}", 5), 21000 + r * 10)
            w.wait([a.id for a in allocs], "running")
            times.append((time.perf_counter() - t0) * 1000)
            stop_set(store, w, allocs)
        print(
            f"count-5 raw_exec, write -> all running, {args.runs} runs: "
            f"median {statistics.median(times):.0f} ms, p95 {pct(times, 95):.0f} ms, "
            f"min {min(times):.0f} ms, max {max(times):.0f} ms"
        )
        t0 = time.perf_counter()
        allocs = write_set(store, agent.node_id, job("many", args.many), 22000)
        w.wait([a.id for a in allocs], "running", 300)
        many = time.perf_counter() - t0
        print(f"{args.many} allocations on one node, write -> all running: {many * 1000:.0f} ms")
        t0 = time.perf_counter()
        stop_set(store, w, allocs)
        print(
            f"{args.many} allocations stopped (SIGINT, all complete): "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"machine: {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, load average {load}"
        )
    finally:
        w.inf.stop()
        agent.stop(drain=True)
        store.close()
        etcd.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_node_agent_benchmark() -> None:
    """`make bench`: the node agent's share (write -> running) and 100 allocations."""
    sys.argv = ["bench_driver.py"]
    main()


def test_apply_to_running_benchmark(tmp_path: Path) -> None:
    """`make bench`: POST /v1/jobs of a count-5 raw_exec job -> all 5 running, through a real
    dev agent (scheduler and node agent included), 20 runs."""
    from tests.agent.harness import AgentProcess

    agent = AgentProcess(tmp_path)
    agent.start()
    try:
        bench_apply(agent.address, 20)
    finally:
        agent.stop()


if __name__ == "__main__":
    main()
