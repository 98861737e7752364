"""Start a real `reconciler agent -dev` process for end-to-end tests: free ports, a temp
data dir and specs dir, and the CLI pointed at it."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.ports import free_port
from tests.waiting import wait_for

BIN = Path(sys.executable).parent


@dataclass
class AgentProcess:
    root: Path
    http_port: int = field(default_factory=free_port)
    etcd_port: int = field(default_factory=free_port)
    etcd_peer_port: int = field(default_factory=free_port)
    router_port: int = field(default_factory=free_port)
    router_admin_port: int = field(default_factory=free_port)
    consul_port: int = field(default_factory=free_port)
    dns_port: int = field(default_factory=free_port)  # UDP (a taken one: the agent runs without DNS)
    proc: subprocess.Popen[bytes] | None = None
    extra_args: list[str] = field(default_factory=list)
    mode: list[str] = field(default_factory=lambda: ["-dev"])
    node_name: str = "test-node"
    etcd: str = ""  # an existing etcd's endpoint; empty: the agent embeds one
    # ACLs: None keeps the test agents open as before (`--no-acl` outside dev mode); True
    # turns them on, and `token` is then sent by `request` and `cli`
    acl: bool | None = None
    token: str = ""
    # HTTPS (`--tls-cert` in extra_args): how `request` verifies the agent and which client
    # certificate it presents; `cli_env` adds the CLI's variables (RECONCILER_CACERT, ...)
    ssl_context: ssl.SSLContext | None = None
    cli_env: dict[str, str] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def specs_dir(self) -> Path:
        return self.root / "specs"

    @property
    def address(self) -> str:
        scheme = "https" if "--tls-cert" in self.extra_args else "http"
        return f"{scheme}://127.0.0.1:{self.http_port}"

    @property
    def etcd_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.etcd_port}"

    @property
    def log_path(self) -> Path:
        return self.root / "agent.log"

    def args(self) -> list[str]:
        etcd = (
            ["--etcd", self.etcd]
            if self.etcd
            else ["--etcd-port", str(self.etcd_port), "--etcd-peer-port", str(self.etcd_peer_port)]
        )
        specs = ["--specs", str(self.specs_dir)] if "-dev" in self.mode else []
        return [
            str(BIN / "reconciler"),
            "agent",
            *self.mode,
            "--data-dir",
            str(self.data_dir),
            "--http-port",
            str(self.http_port),
            *etcd,
            *specs,
            "--node-name",
            self.node_name,
            "--router-port",
            str(self.router_port),
            "--router-admin-port",
            str(self.router_admin_port),
            "--consul-port",
            str(self.consul_port if "-dev" in self.mode else 0),
            *(["--acl"] if self.acl else [] if "-dev" in self.mode else ["--no-acl"]),
            "--dns-port",
            str(self.dns_port if "-dev" in self.mode else 0),
            *self.extra_args,
        ]

    def start(self, timeout: float = 30.0) -> None:
        self.specs_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            self.args(), stdout=log, stderr=subprocess.STDOUT, cwd=self.root, start_new_session=True
        )
        log.close()
        proc = self.proc

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"agent exited with {proc.returncode}:\n{self.log()}")
            try:
                self.request("GET", "/v1/status/leader")  # open with ACLs on
            except (urllib.error.URLError, ConnectionError):
                return False
            return True

        wait_for(
            answers, timeout=timeout, interval=0.05, message=lambda: f"the agent to answer\n{self.log()}"
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:] if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        self.proc = None
        return code

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Nomad-Token"] = self.token
        req = urllib.request.Request(self.address + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=10, context=self.ssl_context) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def running(self, job: str) -> list[dict[str, Any]]:
        """The job's allocations whose client status is running."""
        return [a for a in self.get(f"/v1/job/{job}/allocations") if a["ClientStatus"] == "running"]

    def stop_jobs(self, *jobs: str, timeout: float = 60.0) -> None:
        """Stop the jobs and wait until none of their instances runs: a -client agent leaves
        its tasks running when it stops (its next start re-attaches), so a test stops its jobs
        before its agents, and no instance outlives it."""
        from tests.waiting import wait_for

        for job in jobs:
            self.cli("job", "stop", job)
        wait_for(
            lambda: not any(self.running(job) for job in jobs),
            timeout,
            message=f"every instance of {', '.join(jobs)} stopped before the agents go",
        )

    def cli(
        self, *args: str, timeout: float = 60.0, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "RECONCILER_ADDR": self.address}
        env.pop("NOMAD_TOKEN", None)
        env.pop("RECONCILER_TOKEN", None)
        if self.token:
            env["RECONCILER_TOKEN"] = self.token
        env.update(self.cli_env)
        return subprocess.run(
            [str(BIN / "reconciler"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd=self.root,
        )

    def etcdctl(self, *args: str) -> str:
        out = subprocess.run(
            [str(BIN / "etcdctl"), "--endpoints", self.etcd_endpoint, *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return out.stdout
