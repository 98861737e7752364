"""A periodic job on a real agent: its child launches at the cron time (a seven-field
expression naming a second a few seconds ahead, never a sleep), the parent itself never
runs, an agent restart does not launch the same time again, and `job periodic force`
launches at once."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for

JOB = """
job "{name}" {{
  type = "batch"
  periodic {{
    cron             = "{cron}"
    prohibit_overlap = false
  }}
  group "g" {{
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo launched"]
      }}
      resources {{
        memory = 32
      }}
    }}
  }}
}}
"""


def cron_at(when: float) -> str:
    """A seven-field expression (seconds first, a year last) that names exactly `when`."""
    t = datetime.fromtimestamp(when, UTC)
    return f"{t.second} {t.minute} {t.hour} {t.day} {t.month} * {t.year}"


def children(agent: AgentProcess, parent: str) -> list[dict[str, Any]]:
    return sorted(
        (j for j in agent.get("/v1/jobs") if j.get("ParentID") == parent), key=lambda j: str(j["ID"])
    )


def run(agent: AgentProcess, name: str, cron: str) -> None:
    path = Path(agent.root) / f"{name}.nomad"
    path.write_text(JOB.format(name=name, cron=cron))
    out = agent.cli("job", "run", "-detach", str(path))
    assert out.returncode == 0, out.stderr


def schedule(agent: AgentProcess, name: str, lead: int) -> float:
    """Submit `name` to launch once, `lead` seconds from now, and the launch time. The launcher
    launches only times after the version's submission, so a submission slower than `lead`
    (a loaded machine) is made again with a later time."""
    for _ in range(5):
        fire = float(int(time.time()) + lead)
        run(agent, name, cron_at(fire))
        if agent.get(f"/v1/job/{name}")["SubmitTime"] / 1e9 < fire:
            return fire
    raise AssertionError(f"could not submit {name} {lead}s ahead of its launch")


def test_a_child_launches_at_its_cron_time_once_across_a_restart(agent: AgentProcess) -> None:
    fire = schedule(agent, "report", 6)
    assert agent.get("/v1/job/report/allocations") == []  # the parent is a template
    wait_for(
        lambda: children(agent, "report"),
        timeout=30,
        message=lambda: f"the child at its cron time\n{agent.log()}",
    )
    (child,) = children(agent, "report")
    assert child["ID"] == f"report/periodic-{int(fire)}"
    assert time.time() >= fire  # launched at the time, not before

    # the child runs (its ID is escaped in the path, as Nomad's clients send it)
    def complete() -> bool:
        allocs = agent.get("/v1/job/report%2Fperiodic-" + str(int(fire)) + "/allocations")
        return any(a["ClientStatus"] == "complete" for a in allocs)

    wait_for(complete, timeout=30, message="the child's allocation to complete")
    assert agent.get("/v1/job/report/allocations") == []

    agent.stop()
    agent.start()
    # a second periodic job launching after the restart shows the launcher is running again
    # (and has gone through every periodic job it found on start, "report" first)
    schedule(agent, "probe", 4)
    wait_for(lambda: children(agent, "probe"), timeout=30, message="the launcher to run after the restart")
    assert [c["ID"] for c in children(agent, "report")] == [f"report/periodic-{int(fire)}"]


def test_periodic_force_launches_now(agent: AgentProcess) -> None:
    run(agent, "nightly", "0 3 * * *")
    # a template runs until it is stopped, as Nomad shows it, though it has no allocation
    (parent,) = [j for j in agent.get("/v1/jobs") if j["ID"] == "nightly"]
    assert parent["Status"] == "running"
    assert parent["Periodic"] is True
    out = agent.cli("job", "periodic", "force", "-detach", "nightly")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Force periodic successful\nEvaluation ID: ")
    (child,) = wait_for(lambda: children(agent, "nightly"), timeout=10, message="the forced child")
    assert str(child["ID"]).startswith("nightly/periodic-")
    status = agent.cli("job", "status", str(child["ID"]))
    assert status.returncode == 0, status.stderr
    assert child["ID"] in status.stdout
    parent_status = agent.cli("job", "status", "nightly")
    assert parent_status.returncode == 0, parent_status.stderr
    lines = parent_status.stdout.splitlines()
    assert any(line.startswith("Periodic ") and line.endswith("= true") for line in lines)
    assert any(line.startswith("Next Periodic Launch = ") and "T03:00:00" in line for line in lines)
    launched = lines.index("Previously Launched Jobs")
    assert lines[launched + 2].split()[0] == child["ID"]
    out = agent.cli("job", "periodic", "force", "-detach", str(child["ID"]))
    assert out.returncode == 1
    assert "is not periodic" in out.stderr
