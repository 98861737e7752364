"""The user story (shared/seeds) from a terminal, against a real dev agent: plan, run,
status, a static port that cannot fit five instances, dynamic ports for five, stop."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

from tests.agent.harness import AgentProcess
from tests.factories import job_file
from tests.ports import free_port
from tests.waiting import wait_for


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def running_ports(agent: AgentProcess) -> list[int]:
    allocs = agent.get("/v1/job/todo/allocations")
    ports = []
    for a in allocs:
        if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running":
            full = agent.get(f"/v1/allocation/{a['ID']}")
            ports += [p["Value"] for p in full["AllocatedResources"]["Shared"]["Ports"]]
    return sorted(set(ports))


def test_plan_run_status_scale_and_stop(agent: AgentProcess, tmp_path: Path) -> None:
    static = free_port()
    job = job_file(tmp_path, "todo", count=1, port=f" static = {static} ")

    plan = agent.cli("plan", "-f", str(job))
    assert plan.returncode == 1, plan.stdout + plan.stderr
    assert '+ Job: "todo"' in plan.stdout
    assert '+ Task Group: "web" (1 create)' in plan.stdout
    assert "All tasks successfully allocated." in plan.stdout

    run = agent.cli("apply", "-f", str(job))
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r'Monitoring evaluation "[0-9a-f]{8}"', run.stdout)
    assert re.search(r'Allocation "[0-9a-f]{8}" created: node "[0-9a-f]{8}", group "web"', run.stdout)
    assert 'finished with status "complete"' in run.stdout
    wait_for(lambda: answers(static), timeout=20, message=f"the task answering on static port {static}")

    status = agent.cli("job", "status")
    assert re.search(r"^todo\s+service\s+50\s+running", status.stdout, re.M), status.stdout
    one = agent.cli("job", "status", "todo")
    assert one.returncode == 0
    assert "Summary" in one.stdout
    assert "Allocations" in one.stdout

    # five instances cannot share one static port: the dry run says so in words
    job_file(tmp_path, "todo", count=5, port=f" static = {static} ")
    plan = agent.cli("plan", "-f", str(job))
    assert 'Task Group "web" (failed to place 4 allocations)' in plan.stdout, plan.stdout
    assert f"http={static}" in plan.stdout

    # dynamic ports: five instances on five ports
    job_file(tmp_path, "todo", count=5, port="")
    plan = agent.cli("plan", "-f", str(job))
    assert "All tasks successfully allocated." in plan.stdout, plan.stdout
    run = agent.cli("apply", "-f", str(job))
    assert run.returncode == 0, run.stdout + run.stderr
    ports = wait_for(
        lambda: p if len(p := running_ports(agent)) == 5 else None,
        timeout=30,
        message="five running allocations",
    )
    for port in ports:
        wait_for(lambda port=port: answers(port), timeout=20, message=f"instance on port {port}")

    stop = agent.cli("job", "stop", "todo")
    assert stop.returncode == 0, stop.stdout + stop.stderr
    for port in ports:
        wait_for(lambda port=port: not answers(port), timeout=20, message=f"instance on {port} stopped")
