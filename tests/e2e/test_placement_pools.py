"""distinct_property and node pools with a real cluster: a dev agent (rack r1, pool
"default") and a second client agent (rack r2, pool "gpu").

- Five instances with `distinct_property` on `${meta.rack}`, value 2, in pool "all": two
  run on each rack and the fifth stays queued, the evaluation saying why in Nomad's words.
- Two instances of a job in pool "gpu" both run on the gpu node (binpacking with the
  anti-affinity penalty would put one on each node otherwise).
- The pools are listed from the nodes: `all`, `default`, `gpu`.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

RACKED = """
job "racked" {
  node_pool = "all"
  constraint {
    operator  = "distinct_property"
    attribute = "${meta.rack}"
    value     = "2"
  }
  group "g" {
    count = 5
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

GPU = """
job "gpu" {
  node_pool = "gpu"
  group "g" {
    count = 2
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


def test_distinct_property_and_a_node_pool_on_two_nodes(tmp_path: Path) -> None:
    agent = AgentProcess(tmp_path / "dev", extra_args=["--meta", "rack=r1"])
    agent.root.mkdir()
    agent.start()
    other = AgentProcess(
        tmp_path / "client2",
        mode=["-client", "--raw-exec", "--meta", "rack=r2", "--node-pool", "gpu"],
        etcd=agent.etcd_endpoint,
        node_name="client2",
    )
    other.root.mkdir()

    running = agent.running

    try:
        other.start()
        wait_for(lambda: len(agent.get("/v1/nodes")) == 2, 30, message="the second node registered")
        nodes = {n["ID"]: n for n in agent.get("/v1/nodes")}
        assert sorted((n["Name"], n["NodePool"]) for n in nodes.values()) == [
            ("client2", "gpu"),
            (agent.node_name, "default"),
        ]
        for job, text in (("racked", RACKED), ("gpu", GPU)):
            path = tmp_path / f"{job}.nomad"
            path.write_text(text)
            ran = agent.cli("job", "run", "-detach", str(path))
            assert ran.returncode == 0, ran.stderr
        wait_for(lambda: len(running("racked")) == 4, 60, message="four instances of racked running")
        wait_for(lambda: len(running("gpu")) == 2, 60, message="two instances of gpu running")

        rack_of = {nid: n["Name"] for nid, n in nodes.items()}
        assert Counter(rack_of[a["NodeID"]] for a in running("racked")) == {agent.node_name: 2, "client2": 2}
        summary = agent.get("/v1/job/racked/summary")["Summary"]["g"]
        assert summary["Queued"] == 1
        failed = [
            e["FailedTGAllocs"]["g"] for e in agent.get("/v1/job/racked/evaluations") if e["FailedTGAllocs"]
        ]
        assert failed, "the evaluation that could not place the fifth instance says why"
        assert set(failed[0]["ConstraintFiltered"]) == {
            "distinct_property: ${meta.rack}=r1 used by 2 allocs",
            "distinct_property: ${meta.rack}=r2 used by 2 allocs",
        }

        assert {rack_of[a["NodeID"]] for a in running("gpu")} == {"client2"}

        listed = agent.cli("node", "pool", "list")
        assert listed.returncode == 0, listed.stderr
        assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["all", "default", "gpu"]
    finally:
        agent.stop_jobs("racked", "gpu")
        other.stop()
        agent.stop()
