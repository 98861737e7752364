"""`job init` writes an example that runs on this machine as it is (through the router),
and `job restart` restarts a job's allocations a batch at a time: in place (the same
allocations, their tasks restarted) or with `-reschedule` (each replaced by a new one)."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.agent.harness import AgentProcess
from tests.waiting import wait_for


def running(agent: AgentProcess) -> list[dict[str, Any]]:
    return [
        a
        for a in agent.get("/v1/job/example/allocations")
        if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"
    ]


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/example/", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture
def example(agent: AgentProcess, tmp_path: Path) -> AgentProcess:
    path = tmp_path / "example.nomad.hcl"
    out = agent.cli("job", "init", str(path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout == f"Example job file written to {path}\n"
    again = agent.cli("job", "init", str(path))
    assert again.returncode == 1, "an existing file must not be overwritten"
    out = agent.cli("job", "run", str(path), timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    wait_for(lambda: len(running(agent)) == 2, 60, message="the example's two instances running")
    wait_for(lambda: answers(agent.router_port), 60, message="the example answering through the router")
    return agent


def test_job_restart_in_place_then_rescheduled(example: AgentProcess) -> None:
    before = {a["ID"] for a in running(example)}
    out = example.cli("job", "restart", "example", timeout=100)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Restarting 2 allocations" in out.stdout
    assert out.stdout.count("Restarting running tasks in allocation") == 2
    assert "All allocations restarted successfully!" in out.stdout
    after = running(example)
    assert {a["ID"] for a in after} == before, "an in-place restart keeps the allocations"
    for a in after:
        state = example.get(f"/v1/allocation/{a['ID']}")["TaskStates"]["server"]
        assert state["Restarts"] >= 1 or any(e["Type"] == "Restart Signaled" for e in state["Events"])

    out = example.cli("job", "restart", "-reschedule", "-batch-size", "50%", "example", timeout=100)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("Rescheduling allocation") == 2
    wait_for(lambda: len(running(example)) == 2, 60, message="two instances running again")
    assert not before & {a["ID"] for a in running(example)}, "-reschedule replaces every allocation"
    wait_for(lambda: answers(example.router_port), 60, message="the example answering again")


def test_job_restart_refuses_what_it_cannot_do(agent: AgentProcess) -> None:
    out = agent.cli("job", "restart", "nope")
    assert out.returncode == 1
    assert "nope" in out.stdout + out.stderr
    out = agent.cli("job", "restart", "-task", "t", "-reschedule", "nope")
    assert out.returncode == 1
    assert "cannot be used together" in out.stdout + out.stderr
