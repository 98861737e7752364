"""gRPC checks speak the gRPC health protocol: the probe against a real gRPC server, and a
real agent whose task serves gRPC health, its check passing, then critical when the task
reports NOT_SERVING."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2

from controllers.registrar.probes import GrpcProbe
from reconciler.model.services import CheckState
from tests.agent.harness import AgentProcess
from tests.health.grpc_server import serve
from tests.ports import free_port
from tests.waiting import wait_for

SERVER = Path(__file__).with_name("grpc_server.py")


@pytest.fixture
def server() -> Iterator[tuple[int, health.HealthServicer]]:
    port = free_port()
    srv, servicer = serve(port)
    yield port, servicer
    srv.stop(0).wait(5)


def test_serving_is_passing(server: tuple[int, health.HealthServicer]) -> None:
    port, _ = server
    status, output = GrpcProbe("127.0.0.1", port, "todo").run()
    assert status == CheckState.PASSING, output
    assert output == f"gRPC check 127.0.0.1:{port}/todo: SERVING"


def test_the_server_as_a_whole(server: tuple[int, health.HealthServicer]) -> None:
    port, _ = server
    assert GrpcProbe("127.0.0.1", port).run()[0] == CheckState.PASSING


def test_not_serving_is_critical(server: tuple[int, health.HealthServicer]) -> None:
    port, servicer = server
    servicer.set("todo", health_pb2.HealthCheckResponse.NOT_SERVING)
    status, output = GrpcProbe("127.0.0.1", port, "todo").run()
    assert status == CheckState.CRITICAL
    assert output.endswith("NOT_SERVING")


def test_an_unknown_service_is_critical(server: tuple[int, health.HealthServicer]) -> None:
    port, _ = server
    status, output = GrpcProbe("127.0.0.1", port, "nope").run()
    assert status == CheckState.CRITICAL
    assert grpc.StatusCode.NOT_FOUND.name in output


def test_nothing_listening_is_critical() -> None:
    status, output = GrpcProbe("127.0.0.1", free_port(), timeout=0.5).run()
    assert status == CheckState.CRITICAL
    assert "UNAVAILABLE" in output or "DEADLINE_EXCEEDED" in output, output


JOB = """
job "rpc" {
  group "g" {
    network {
      port "grpc" {}
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "@python"
        args    = ["@server", "${NOMAD_PORT_grpc}", "@flag"]
      }
      service {
        name = "rpc"
        port = "grpc"
        check {
          type         = "grpc"
          grpc_service = "todo"
          interval     = "200ms"
          timeout      = "1s"
        }
      }
    }
  }
}
"""


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[AgentProcess]:
    a = AgentProcess(tmp_path)
    a.start()
    yield a
    a.stop()


def test_a_task_serving_grpc_health_passes_its_check(agent: AgentProcess, tmp_path: Path) -> None:
    job = tmp_path / "rpc.nomad"
    flag = tmp_path / "not-serving"
    job.write_text(
        JOB.replace("@python", sys.executable).replace("@server", str(SERVER)).replace("@flag", str(flag))
    )
    ran = agent.cli("job", "run", "-detach", str(job))
    assert ran.returncode == 0, ran.stderr

    def status() -> str:
        allocs = agent.get("/v1/job/rpc/allocations")
        checks = agent.get(f"/v1/client/allocation/{allocs[0]['ID']}/checks") if allocs else {}
        return "".join(str(c["Status"]) for c in checks.values())

    wait_for(lambda: status() == "success", 60, message="the gRPC check passes")
    flag.touch()
    wait_for(lambda: status() == "failure", 30, message="the gRPC check turns critical")
