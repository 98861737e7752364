"""`ephemeral_disk` with real agents: the node reports its disk and allocations their
`size`; a sticky group's task writes into `alloc/data`, the job is updated, and the new
allocation finds the file; with `migrate`, a drain moves the allocation to a second client
agent, which copies the data from the first node's agent before the task starts."""

from __future__ import annotations

from pathlib import Path

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

# Each run records what alloc/data held when it started, then appends its own version.
JOB = """
job "keeper" {
  group "g" {
    ephemeral_disk {
      size    = 200
      @mode = true
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "cat $D/log >local/before; echo v$V >>$D/log; exec sleep 600"]
      }
      env {
        V = "@version"
        D = "${NOMAD_ALLOC_DIR}/data"
      }
      resources {
        memory = 32
      }
    }
  }
}
"""


def _run(agent: AgentProcess, tmp_path: Path, version: int, mode: str = "sticky") -> None:
    path = tmp_path / "keeper.nomad"
    path.write_text(JOB.replace("@version", str(version)).replace("@mode", mode))
    ran = agent.cli("job", "run", "-detach", str(path))
    assert ran.returncode == 0, ran.stderr


def _running(agent: AgentProcess) -> list[dict[str, str]]:
    return agent.running("keeper")


def _file(data_dir: Path, alloc_id: str, rel: str) -> str:
    path = data_dir / "allocs" / alloc_id / rel
    return path.read_text() if path.exists() else ""


def test_a_sticky_disk_survives_a_job_update(agent: AgentProcess, tmp_path: Path) -> None:
    wait_for(lambda: len(agent.get("/v1/nodes")) == 1, 30, message="the node registered")
    node = agent.get(f"/v1/node/{agent.get('/v1/nodes')[0]['ID']}")
    disk = node["NodeResources"]["Disk"]["DiskMB"]
    assert disk > 0  # the free space of the agent's data dir
    assert f"Disk          = {disk} MiB" in agent.cli("node", "status", node["ID"]).stdout
    try:
        _run(agent, tmp_path, 1)
        wait_for(lambda: len(_running(agent)) == 1, 60, message=lambda: f"the first runs\n{agent.log()}")
        first = _running(agent)[0]["ID"]
        assert agent.get(f"/v1/allocation/{first}")["Resources"]["DiskMB"] == 200
        wait_for(lambda: _file(agent.data_dir, first, "alloc/data/log") == "v1\n", 30, message="v1 wrote")

        _run(agent, tmp_path, 2)  # a changed env: a destructive update, a new allocation
        wait_for(
            lambda: [a["ID"] for a in _running(agent)] not in ([], [first]),
            90,
            message=lambda: f"the replacement runs\n{agent.log()}",
        )
        second = _running(agent)[0]["ID"]
        assert agent.get(f"/v1/allocation/{second}")["NodeID"] == node["ID"]
        wait_for(
            lambda: _file(agent.data_dir, second, "alloc/data/log") == "v1\nv2\n", 30, message="v2 appended"
        )
        assert _file(agent.data_dir, second, "t/local/before") == "v1\n"  # it saw the file at its start
    finally:
        agent.cli("job", "stop", "keeper")


def test_migrate_copies_the_data_to_the_other_node_on_drain(agent: AgentProcess, tmp_path: Path) -> None:
    other = AgentProcess(
        tmp_path / "client2", mode=["-client", "--raw-exec"], etcd=agent.etcd_endpoint, node_name="client2"
    )
    other.root.mkdir()
    wait_for(lambda: len(agent.get("/v1/nodes")) == 1, 30, message="the first node registered")
    first_node = agent.get("/v1/nodes")[0]["ID"]
    try:
        _run(agent, tmp_path, 1, mode="migrate")  # placed before client2 exists: on the dev node
        wait_for(lambda: len(_running(agent)) == 1, 60, message=lambda: f"the first runs\n{agent.log()}")
        first = _running(agent)[0]["ID"]
        wait_for(lambda: _file(agent.data_dir, first, "alloc/data/log") == "v1\n", 30, message="v1 wrote")
        other.start()
        wait_for(lambda: len(agent.get("/v1/nodes")) == 2, 30, message="the second node registered")

        drained = agent.cli("node", "drain", "-enable", "-yes", first_node)
        assert drained.returncode == 0, drained.stderr
        wait_for(
            lambda: [a["ID"] for a in _running(agent)] not in ([], [first]),
            120,
            message=lambda: f"the replacement runs on client2\n{agent.log()}\n{other.log()}",
        )
        second = _running(agent)[0]["ID"]
        assert agent.get(f"/v1/allocation/{second}")["NodeName"] == "client2"
        wait_for(
            lambda: _file(other.data_dir, second, "alloc/data/log") == "v1\nv1\n",
            30,
            message=lambda: f"the copy was appended to\n{other.log()}",
        )
        assert _file(other.data_dir, second, "t/local/before") == "v1\n"
        events = agent.get(f"/v1/allocation/{second}")["TaskStates"]["t"]["Events"]
        migrated = [e for e in events if e["DisplayMessage"].startswith("Migrated alloc/data")]
        assert [e["Type"] for e in migrated] == ["Task Setup"], events
    finally:
        agent.stop_jobs("keeper")
        other.stop()
