"""Host volumes with a real dev agent (`--host-volume`): the node offers the volume, a task
writes into its mount, the task is replaced by a destructive update, and the new
allocation's task reads what the old one wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

# Each run copies what the volume holds into its own task dir, then appends its version.
JOB = """
job "keeper" {
  group "g" {
    volume "store" {
      type   = "host"
      source = "shared"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "cat local/data/log >local/before; echo v$V >>local/data/log; exec sleep 600"]
      }
      env {
        V = "@version"
      }
      volume_mount {
        volume      = "store"
        destination = "local/data"
      }
      resources {
        memory = 32
      }
    }
  }
}
"""


@pytest.fixture
def volume_agent(tmp_path: Path) -> Iterator[tuple[AgentProcess, Path]]:
    host_dir = tmp_path / "host-volume"
    host_dir.mkdir()
    root = tmp_path / "agent"
    root.mkdir()
    a = AgentProcess(root, extra_args=["--host-volume", f"shared={host_dir}"])
    a.start()
    yield a, host_dir
    a.cli("job", "stop", "keeper")
    a.stop()


def _run(agent: AgentProcess, tmp_path: Path, version: int) -> None:
    path = tmp_path / "keeper.nomad"
    path.write_text(JOB.replace("@version", str(version)))
    ran = agent.cli("job", "run", "-detach", str(path))
    assert ran.returncode == 0, ran.stderr


def _running(agent: AgentProcess) -> list[dict[str, str]]:
    return [a for a in agent.get("/v1/job/keeper/allocations") if a["ClientStatus"] == "running"]


def test_host_volume_data_survives_a_task_replacement(
    volume_agent: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    agent, host_dir = volume_agent
    wait_for(lambda: len(agent.get("/v1/nodes")) == 1, 30, message="the node registered")
    node = agent.get("/v1/nodes")[0]
    full = agent.get(f"/v1/node/{node['ID']}")
    assert full["HostVolumes"] == {"shared": {"Name": "shared", "Path": str(host_dir), "ReadOnly": False}}
    assert "Host Volumes  = shared" in agent.cli("node", "status", node["ID"]).stdout

    log = host_dir / "log"
    _run(agent, tmp_path, 1)
    wait_for(lambda: log.exists() and log.read_text() == "v1\n", 60, message="the first task wrote")
    first = _running(agent)[0]["ID"]

    _run(agent, tmp_path, 2)  # a changed env: a destructive update, a new allocation
    wait_for(
        lambda: log.read_text() == "v1\nv2\n", 90, message=lambda: f"the replacement wrote\n{agent.log()}"
    )
    wait_for(
        lambda: [a["ID"] for a in _running(agent)] != [first], 60, message="only the new allocation runs"
    )
    second = _running(agent)[0]["ID"]
    assert second != first
    before = agent.data_dir / "allocs" / second / "t" / "local" / "before"
    assert before.read_text() == "v1\n"  # the new task read what the replaced one wrote
    link = agent.data_dir / "allocs" / second / "t" / "local" / "data"
    assert link.is_symlink()
    assert link.resolve() == host_dir.resolve()


def test_a_group_asking_for_a_volume_the_node_lacks_is_not_placed(
    volume_agent: tuple[AgentProcess, Path], tmp_path: Path
) -> None:
    agent, _ = volume_agent
    path = tmp_path / "keeper.nomad"
    path.write_text(JOB.replace("@version", "1").replace('source = "shared"', 'source = "absent"'))
    ran = agent.cli("job", "run", "-detach", str(path))
    assert ran.returncode == 0, ran.stderr

    def blocked() -> bool:
        evals = agent.get("/v1/job/keeper/evaluations")
        return any(e.get("FailedTGAllocs") for e in evals)

    wait_for(blocked, 30, message="the evaluation reported the failed placement")
    failed = next(
        e["FailedTGAllocs"]["g"] for e in agent.get("/v1/job/keeper/evaluations") if e.get("FailedTGAllocs")
    )
    assert failed["ConstraintFiltered"] == {"missing compatible host volumes": 1}
    assert agent.get("/v1/job/keeper/allocations") == []
