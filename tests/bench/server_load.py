"""What a server agent process and etcd did over a window of a benchmark (bench_nodes.py):
CPU seconds of each from /proc, etcd's gRPC requests and lease keepalives from its
/metrics, its revisions, and the evaluations the server processed from its `/v1/metrics`.
A `Probe` reads the counters at the window's start and end; a `Load` is the difference."""

from __future__ import annotations

import os
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.store import Store
from tests.agent.harness import AgentProcess


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _scrape(url: str) -> dict[str, float]:
    """Prometheus text: the sum of every sample of each metric name (labels dropped)."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        out[name] = out.get(name, 0.0) + float(value)
    return out


@dataclass
class Load:
    """What the server process and etcd did over a window."""

    seconds: float
    server_cpu: float
    etcd_cpu: float
    rpcs: float  # gRPC calls etcd started, lease keepalives left out
    keepalives: float  # lease keepalive messages etcd received
    revisions: int
    evals_processed: float


@dataclass
class Probe:
    """Reads the counters a `Load` is the difference of."""

    store: Store
    etcd: EmbeddedEtcd
    server: AgentProcess
    _start: dict[str, float] = field(default_factory=dict)

    def _read(self) -> dict[str, float]:
        assert self.etcd.proc is not None
        assert self.server.proc is not None
        calls, keepalives = _etcd_counts(f"{self.etcd.endpoint}/metrics")
        s = _scrape(f"{self.server.address}/v1/metrics?format=prometheus")
        return {
            "t": time.monotonic(),
            "server_cpu": cpu_seconds(self.server.proc.pid),
            "etcd_cpu": cpu_seconds(self.etcd.proc.pid),
            "rpcs": calls,
            "keepalives": keepalives,
            "revision": float(self.store.revision()),
            "evals": s.get("nomad_nomad_worker_evaluations_processed_total", 0.0),
        }

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> Load:
        end, st = self._read(), self._start
        return Load(
            seconds=end["t"] - st["t"],
            server_cpu=end["server_cpu"] - st["server_cpu"],
            etcd_cpu=end["etcd_cpu"] - st["etcd_cpu"],
            rpcs=end["rpcs"] - st["rpcs"],
            keepalives=end["keepalives"] - st["keepalives"],
            revisions=int(end["revision"] - st["revision"]),
            evals_processed=end["evals"] - st["evals"],
        )


def _etcd_counts(url: str) -> tuple[float, float]:
    """(gRPC calls etcd started other than lease keepalives, keepalive messages received)
    from etcd's /metrics: each refresh of a lease is a keepalive stream of one message."""
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    calls = keepalives = 0.0
    for line in text.splitlines():
        keepalive = 'grpc_method="LeaseKeepAlive"' in line
        if line.startswith("grpc_server_started_total") and not keepalive:
            calls += float(line.rpartition(" ")[2])
        elif line.startswith("grpc_server_msg_received_total") and keepalive:
            keepalives += float(line.rpartition(" ")[2])
    return calls, keepalives
