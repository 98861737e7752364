"""spread with a real cluster: a dev agent and a second client agent. Four instances spread
50/50 over the two nodes by name land two and two, and 75/25 three and one (binpacking with
the anti-affinity penalty alone gives two and two, so the second job shows spread acting)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

JOB = """
job "@job" {
  group "g" {
    count = 4
    spread {
      attribute = "${node.unique.name}"
      target "@first" {
        percent = @p1
      }
      target "@second" {
        percent = @p2
      }
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["600"]
      }
      resources {
        memory = 32
      }
    }
  }
}
"""


def test_four_instances_land_by_their_spread_targets(agent: AgentProcess, tmp_path: Path) -> None:
    running = agent.running

    other = AgentProcess(
        tmp_path / "client2", mode=["-client", "--raw-exec"], etcd=agent.etcd_endpoint, node_name="client2"
    )
    other.root.mkdir()
    other.start()
    try:
        wait_for(lambda: len(agent.get("/v1/nodes")) == 2, 30, message="the second node registered")
        names = {n["ID"]: n["Name"] for n in agent.get("/v1/nodes")}
        for job, p1, p2 in (("half", 50, 50), ("most", 75, 25)):
            path = tmp_path / f"{job}.nomad"
            text = JOB.replace("@job", job).replace("@first", agent.node_name).replace("@second", "client2")
            path.write_text(text.replace("@p1", str(p1)).replace("@p2", str(p2)))
            ran = agent.cli("job", "run", "-detach", str(path))
            assert ran.returncode == 0, ran.stderr
            wait_for(lambda job=job: len(running(job)) == 4, 60, message=f"four instances of {job} running")
        assert Counter(names[a["NodeID"]] for a in running("half")) == {agent.node_name: 2, "client2": 2}
        assert Counter(names[a["NodeID"]] for a in running("most")) == {agent.node_name: 3, "client2": 1}
    finally:
        agent.stop_jobs("half", "most")
        other.stop()
