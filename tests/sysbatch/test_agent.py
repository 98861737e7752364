"""A sysbatch job on a real agent: one allocation on the node, run to completion, and not
run again when the job is evaluated again (Nomad's sysbatch semantics)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

JOB = """
job "sweep" {
  type = "sysbatch"
  group "g" {
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo swept"]
      }
      resources {
        memory = 32
      }
    }
  }
}
"""


def allocs(agent: AgentProcess) -> list[dict[str, Any]]:
    return list(agent.get("/v1/job/sweep/allocations"))


def run(agent: AgentProcess, path: Path) -> None:
    out = agent.cli("job", "run", "-detach", str(path))
    assert out.returncode == 0, out.stderr


def test_a_sysbatch_allocation_completes_once_per_node(agent: AgentProcess, tmp_path: Path) -> None:
    spec = tmp_path / "sweep.nomad"
    spec.write_text(JOB)
    run(agent, spec)
    (alloc,) = wait_for(
        lambda: [a for a in allocs(agent) if a["ClientStatus"] == "complete"],
        timeout=30,
        message=lambda: f"the sysbatch allocation to complete\n{agent.log()}",
    )
    assert alloc["NodeID"] == agent.get("/v1/nodes")[0]["ID"]

    again = agent.request(
        "POST", "/v1/job/sweep", {"Job": json.loads(agent.cli("job", "inspect", "sweep").stdout)["Job"]}
    )
    eval_id = again["EvalID"]
    wait_for(
        lambda: agent.get(f"/v1/evaluation/{eval_id}")["Status"] == "complete",
        timeout=30,
        message="the second evaluation to complete",
    )
    got = allocs(agent)
    assert [a["ID"] for a in got] == [alloc["ID"]]
    assert got[0]["ClientStatus"] == "complete"
    assert got[0]["TaskStates"]["t"]["Restarts"] == 0
