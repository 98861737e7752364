"""A cluster of separate processes for fault tests, shaped as issue 13 measured it: one etcd
of the test's own (it may be restarted), two server agents (leader-elected controllers), two
client agents each on its own loopback address, and a standalone router, with a small HTTP
app behind it. Faults are done to it from outside, as an operator's bad day would: SIGKILL of
an agent and every process it started, SIGSTOP of a leader, etcd stopped and started.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.agent.etcd_process import EmbeddedEtcd
from reconciler.runtime.leader import LeaderRecord
from reconciler.store import Store
from tests.agent.harness import BIN, AgentProcess
from tests.factories import job_file
from tests.faults.invariants import router_targets
from tests.ports import free_port
from tests.waiting import wait_for

LEADER_TTL = 3  # seconds (`--leader-ttl`): short, so leader faults fit the suite's budget
HEARTBEAT_TTL = 10  # seconds: the node agent's heartbeat lease (its default)
CONTROLLERS = ("scheduler", "deployments", "liveness", "gc")

# The app behind the router: GET answers 200 with the node it runs on; it binds the address
# its node gave it (NOMAD_IP_http), as a task on a real host must.
APP = r"""
import http.server, os, sys
node = os.environ.get("NODE", "?")

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = f"node={os.environ.get('NOMAD_NODE_NAME', '?')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

addr = os.environ.get("NOMAD_IP_http", "127.0.0.1")
http.server.ThreadingHTTPServer((addr, int(sys.argv[1])), Handler).serve_forever()
"""


@dataclass
class HostAgent(AgentProcess):
    """An agent whose API and tasks live on `host` (its own loopback address)."""

    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.http_port}"


@dataclass
class RouterProcess:
    """`reconciler router` against the cluster's etcd."""

    root: Path
    etcd: str
    prefix: str
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.root / "router.log", "ab")  # noqa: SIM115 - the child owns it
        args = [str(BIN / "reconciler"), "router", "--etcd", self.etcd, "--prefix", self.prefix]
        args += ["--port", str(self.port), "--admin-port", str(self.admin_port)]
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        wait_for(self._answers, 30, interval=0.05, message="the router's admin port")

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"router exited with {self.proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/health", timeout=2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def processes_under(root: Path) -> list[int]:
    """Pids of every process working under `root` (an agent, its executors, its tasks: the
    agent runs in its root, each task in its task dir)."""
    base = str(root.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(entry / "cwd").startswith(base):
                found.append(int(entry.name))
    return found


def kill_all_under(root: Path) -> None:
    """SIGKILL every process working under `root`, until none is left."""

    def gone() -> bool:
        pids = processes_under(root)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return not pids

    wait_for(gone, 15, interval=0.05, message=f"every process under {root} killed")


class Cluster:
    """Two servers, two clients, a router and the app job's file; `start()` then `stop()`."""

    def __init__(self, root: Path, etcd: EmbeddedEtcd, prefix: str) -> None:
        self.root, self.etcd, self.prefix = root, etcd, prefix
        common = ["--prefix", prefix, "--leader-ttl", str(LEADER_TTL)]
        self.servers = [
            HostAgent(root / name, mode=["-server"], etcd=etcd.endpoint, node_name=name, extra_args=common)
            for name in ("server1", "server2")
        ]
        self.clients = [
            HostAgent(
                root / name,
                mode=["-client", "--raw-exec"],
                etcd=etcd.endpoint,
                node_name=name,
                host=host,
                extra_args=[*common, "--bind", host],
            )
            for name, host in (("client1", "127.0.0.2"), ("client2", "127.0.0.3"))
        ]
        self.router = RouterProcess(root, etcd.endpoint, prefix)
        self.store = Store([etcd.endpoint], prefix=prefix, retry_for=30)
        root.mkdir(exist_ok=True)
        self.app = root / "app.py"
        self.app.write_text(APP)

    @property
    def agents(self) -> list[HostAgent]:
        return [*self.servers, *self.clients]

    def start(self) -> None:
        for a in self.agents:
            a.root.mkdir()
            a.start()
        self.router.start()
        wait_for(lambda: len(self.api().get("/v1/nodes")) == 2, 30, message="both clients registered")
        wait_for(lambda: all(self.leader(c) for c in CONTROLLERS), 30, message="a leader for each controller")

    def stop(self) -> None:
        self.router.stop()
        for a in self.agents:
            with contextlib.suppress(Exception):
                a.stop(timeout=15)
            kill_all_under(a.root)  # a client leaves its tasks running when it stops
        self.store.close()

    def api(self) -> HostAgent:
        """An agent whose process runs (to talk to the API)."""
        return next(a for a in self.agents if a.proc is not None and a.proc.poll() is None)

    def leader(self, controller: str) -> str | None:
        """The identity (`<node name>-<pid>`) leading `controller`."""
        got = self.store.get(self.store.keys.leader(controller), LeaderRecord)
        return got.value.identity if got else None

    def leader_lease(self, controller: str) -> int | None:
        """The lease of `controller`'s leader key (a new one for every term)."""
        got = self.store.get(self.store.keys.leader(controller), LeaderRecord)
        return got.value.lease if got else None

    def server_of(self, identity: str) -> HostAgent:
        return next(
            s for s in self.servers if s.proc is not None and identity == f"{s.node_name}-{s.proc.pid}"
        )

    def kill(self, agent: HostAgent) -> None:
        """The agent and everything it started die at once (a host lost)."""
        assert agent.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(agent.proc.pid, signal.SIGKILL)
        kill_all_under(agent.root)
        agent.proc.wait()
        agent.proc = None

    def run_app(self, count: int) -> None:
        """Submit the app job (service "zd" at /zd) and wait until the router has `count`
        instances."""
        path = job_file(
            self.root,
            "zero-downtime",
            python=sys.executable,
            app=self.app,
            release="1",
            count=count,
            canary="",
        )
        out = self.api().cli("job", "run", "-detach", str(path), timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        wait_for(lambda: len(self.targets()) == count, 60, message=f"{count} routed instances of zd")

    def targets(self) -> list[str]:
        """The instances the router sends /zd to."""
        return router_targets(self.router.admin_port, "/zd")()

    def running(self, *, besides: str = "", job: str = "zd") -> list[dict[str, Any]]:
        """Allocations of `job` meant to run and running, on any node but `besides`."""
        allocs = self.api().get(f"/v1/job/{job}/allocations")
        return [
            a
            for a in allocs
            if a["ClientStatus"] == "running" and a["DesiredStatus"] == "run" and a["NodeID"] != besides
        ]

    def node_id(self, agent: HostAgent) -> str:
        return next(str(n["ID"]) for n in self.api().get("/v1/nodes") if n["Name"] == agent.node_name)


def http_status(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str]:
    """Status and body of one request; error statuses are answers, not exceptions."""
    req = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
