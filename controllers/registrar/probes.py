"""The four probes (http, tcp, script, grpc): each runs once, bounded by its timeout, and
answers (status, output). Blocking by design: they run on the check runner's small thread
pool, never on a controller worker."""

from __future__ import annotations

import http.client
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from controllers.registrar.check_state import classify_exit, classify_http
from reconciler.model.alloc_dir import launch_spec_file, read_launch_spec
from reconciler.model.sandbox_exec import enter_argv
from reconciler.model.services import CheckState
from reconciler.model.taskenv import inherited_env
from reconciler.runtime.commands import run_command

MAX_OUTPUT = 4096


@dataclass(frozen=True)
class HttpProbe:
    host: str
    port: int
    path: str = "/"
    method: str = "GET"
    headers: dict[str, list[str]] = field(default_factory=dict)
    protocol: str = "http"
    timeout: float = 2.0

    def run(self) -> tuple[CheckState, str]:
        cls = http.client.HTTPSConnection if self.protocol == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.timeout)
        try:
            conn.putrequest(self.method or "GET", self.path or "/", skip_accept_encoding=True)
            for name, values in self.headers.items():
                for v in values:
                    conn.putheader(name, v)
            conn.endheaders()
            resp = conn.getresponse()
            body = resp.read(MAX_OUTPUT).decode(errors="replace")
            return classify_http(
                resp.status
            ), f"HTTP {self.method} {self.path}: {resp.status} {resp.reason} Output: {body}"
        except (OSError, http.client.HTTPException) as exc:
            return CheckState.CRITICAL, f"HTTP {self.method} {self.path}: {type(exc).__name__}: {exc}"
        finally:
            conn.close()


@dataclass(frozen=True)
class TcpProbe:
    host: str
    port: int
    timeout: float = 2.0

    def run(self) -> tuple[CheckState, str]:
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout):
                return CheckState.PASSING, f"TCP connect {self.host}:{self.port}: Success"
        except OSError as exc:
            return CheckState.CRITICAL, f"TCP connect {self.host}:{self.port}: {exc}"


@dataclass(frozen=True)
class ScriptProbe:
    command: str
    args: tuple[str, ...] = ()
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 2.0
    # The allocation's state dir and the task: when the task runs sandboxed (exec, java, as
    # its launch spec says), the script runs inside its sandbox, as `alloc exec` does.
    state: Path | None = None
    task: str = ""

    def run(self) -> tuple[CheckState, str]:
        """Bounded as `run_command` bounds it: at most MAX_OUTPUT bytes kept, the whole
        process group killed on timeout and once the script exits (review H4); for a
        sandboxed task inside its namespaces, chroot and user, with its environment."""
        cwd = self.cwd if self.cwd is not None and self.cwd.is_dir() else None
        argv = [self.command, *self.args]
        env = {**inherited_env(os.environ), **self.env}
        spec = read_launch_spec(launch_spec_file(self.state, self.task)) if self.state and self.task else {}
        try:
            inside = enter_argv(spec, self.state, self.task, argv) if self.state else None
        except LookupError as exc:
            return CheckState.CRITICAL, str(exc)
        if inside is not None:
            argv, env = inside, {**(spec.get("env") or {}), **self.env}
        try:
            res = run_command(
                argv,
                cwd=cwd,
                env=env,
                timeout=self.timeout,
                max_output=MAX_OUTPUT,
            )
        except OSError as exc:
            return CheckState.CRITICAL, f"script failed to start: {exc}"
        if res.timed_out:
            return CheckState.CRITICAL, f"script timed out after {self.timeout}s"
        out = (res.stdout + res.stderr)[:MAX_OUTPUT].decode(errors="replace")
        return classify_exit(res.exit_code), out


@dataclass(frozen=True)
class GrpcProbe:
    """The gRPC health checking protocol (grpc.health.v1.Health/Check), as Consul's gRPC
    check: SERVING is passing, any other answer or error critical."""

    host: str
    port: int
    service: str = ""
    use_tls: bool = False
    timeout: float = 2.0

    def run(self) -> tuple[CheckState, str]:
        target = f"{self.host}:{self.port}"
        channel = (
            grpc.secure_channel(target, grpc.ssl_channel_credentials())
            if self.use_tls
            else grpc.insecure_channel(target)
        )
        where = f"gRPC check {target}/{self.service}"
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            resp = stub.Check(health_pb2.HealthCheckRequest(service=self.service), timeout=self.timeout)
        except grpc.RpcError as exc:
            return CheckState.CRITICAL, f"{where}: {exc.code().name}: {exc.details()}"
        finally:
            channel.close()
        name = health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
        serving = resp.status == health_pb2.HealthCheckResponse.SERVING
        return (CheckState.PASSING if serving else CheckState.CRITICAL), f"{where}: {name}"
