"""The event stream of a real dev agent: a job submitted with the CLI streams its
JobRegistered, PlanResult and AllocationUpdated frames; a second subscriber resumes from the
registration's index and gets the same frame again; `reconciler event stream` prints it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.agent.harness import BIN, AgentProcess
from tests.events.stream import EventReader
from tests.waiting import wait_for

JOB = """job "todo" {
  datacenters = ["dc1"]
  group "web" {
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sleep"
        args    = ["1000"]
      }
      resources {
        memory = 32
      }
    }
  }
}
"""


def test_a_job_run_streams_its_registration_placement_and_start(agent: AgentProcess, tmp_path: Path) -> None:
    path = tmp_path / "todo.nomad"
    path.write_text(JOB)
    with EventReader(agent.address, topic=["Job:todo", "Allocation:todo"]) as reader:
        wait_for(reader.snapshot, message="subscribed")
        out = agent.cli("job", "run", "-detach", str(path))
        assert out.returncode == 0, out.stdout + out.stderr
        registered = reader.wait_event(lambda e: e["Type"] == "JobRegistered", 30, "JobRegistered")
        assert registered["Payload"]["Job"]["ID"] == "todo"
        placed = reader.wait_event(lambda e: e["Type"] == "PlanResult", 30, "PlanResult")
        assert placed["Payload"]["Allocation"]["JobID"] == "todo"
        running = reader.wait_event(
            lambda e: (
                e["Type"] == "AllocationUpdated" and e["Payload"]["Allocation"]["ClientStatus"] == "running"
            ),
            30,
            "the allocation running",
        )
        assert running["Key"] == placed["Key"]
        assert running["Index"] > registered["Index"]

    with EventReader(agent.address, index=registered["Index"], topic=["Job:todo"]) as resumed:
        again = resumed.wait_event(lambda e: e["Type"] == "JobRegistered", 15, "the replayed registration")
        assert again["Index"] == registered["Index"]
        assert again["Payload"]["Job"]["Version"] == registered["Payload"]["Job"]["Version"]

    cli = subprocess.Popen(
        [str(BIN / "reconciler"), "event", "stream", "-topic", "Job", "-index", str(registered["Index"])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"RECONCILER_ADDR": agent.address, "PATH": "/usr/bin:/bin"},
    )
    try:
        assert cli.stdout is not None
        line = cli.stdout.readline()  # blocks until the replayed frame is printed
        assert " Job " in line
        assert "JobRegistered" in line
        assert "todo" in line
        assert "version 0" in line
    finally:
        cli.terminate()
        cli.wait(10)
        if cli.stdout is not None:
            cli.stdout.close()
        if cli.stderr is not None:
            cli.stderr.close()
