"""Deployments end to end against a real dev agent (real processes, embedded etcd): a canary
beside the old version, promotion, a stable version; a rolling update that never drops below
count - 1 running instances."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.agent.harness import AgentProcess
from tests.factories import job_file, update_block
from tests.waiting import wait_for


def write(tmp_path: Path, release: str, **update: object) -> Path:
    block = update_block(**update, min_healthy_time="1s", health_check="task_states")
    return job_file(tmp_path, "todo", name=f"todo-{release}.nomad", release=release, update=block)


def live(agent: AgentProcess) -> list[dict[str, Any]]:
    return [a for a in agent.get("/v1/job/todo/allocations") if a["DesiredStatus"] == "run"]


def answers(agent: AgentProcess, alloc_id: str) -> bool:
    full = agent.get(f"/v1/allocation/{alloc_id}")
    for p in full["AllocatedResources"]["Shared"]["Ports"]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{p['Value']}/", timeout=1) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
    return False


def test_canary_promote_and_stable(agent: AgentProcess, tmp_path: Path) -> None:
    update = {"canary": 1, "max_parallel": 3}
    first = agent.cli("apply", "-f", str(write(tmp_path, "1", **update)))
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r'✓ Deployment "[0-9a-f]{8}" successful', first.stdout), first.stdout
    old = {a["ID"] for a in live(agent)}
    assert len(old) == 3

    second = agent.cli("apply", "-f", str(write(tmp_path, "2", **update)))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Description = Deployment is running but requires manual promotion" in second.stdout, second.stdout
    assert re.search(r"web\s+false\s+3\s+1\s+1\s+1\s+0", second.stdout), second.stdout
    now = live(agent)
    canaries = [a for a in now if a["JobVersion"] == 1]
    assert {a["ID"] for a in now if a["JobVersion"] == 0} == old, "the old version keeps running"
    assert len(canaries) == 1
    assert canaries[0]["DeploymentStatus"]["Canary"]
    assert canaries[0]["ClientStatus"] == "running"
    wait_for(lambda: answers(agent, canaries[0]["ID"]), timeout=20, message="the canary answering")
    for a in now:
        wait_for(lambda a=a: answers(agent, a["ID"]), timeout=20, message=f"instance {a['ID']} answering")

    promote = agent.cli("job", "promote", "todo", timeout=90)
    assert promote.returncode == 0, promote.stdout + promote.stderr
    assert re.search(r'✓ Deployment "[0-9a-f]{8}" successful', promote.stdout), promote.stdout
    assert re.search(r"web\s+true\s+3\s+1\s+3\s+3\s+0", promote.stdout), promote.stdout
    final = live(agent)
    assert len(final) == 3
    assert all(a["JobVersion"] == 1 and a["ClientStatus"] == "running" for a in final)
    assert canaries[0]["ID"] in {a["ID"] for a in final}, "the promoted canary stays"
    dep = agent.get("/v1/job/todo/deployment")
    assert (dep["Status"], dep["StatusDescription"]) == ("successful", "Deployment completed successfully")
    versions = {v["Version"]: v["Stable"] for v in agent.get("/v1/job/todo/versions")["Versions"]}
    assert versions == {0: True, 1: True}
    statuses = [
        a["DeploymentStatus"]
        for a in agent.get("/v1/job/todo/allocations")
        if a["ID"] in {f["ID"] for f in final}
    ]
    assert all(st and st["Healthy"] is True for st in statuses), statuses


def test_rolling_update_keeps_count_minus_one_running(agent: AgentProcess, tmp_path: Path) -> None:
    update = {"max_parallel": 1}
    first = agent.cli("apply", "-f", str(write(tmp_path, "1", **update)))
    assert first.returncode == 0, first.stdout + first.stderr
    started = agent.cli("apply", "-detach", "-f", str(write(tmp_path, "2", **update)))
    assert started.returncode == 0, started.stdout + started.stderr
    samples: list[int] = []

    def rolled() -> bool:
        now = live(agent)
        running = [a for a in now if a["ClientStatus"] == "running"]
        samples.append(len(now) - len(running))
        assert len(running) >= 2, f"only {len(running)} running instances while rolling"
        dep = agent.get("/v1/job/todo/deployment")
        return bool(dep and dep["JobVersion"] == 1 and dep["Status"] == "successful")

    wait_for(rolled, timeout=60, interval=0.05, message="the rolling update to finish")
    # one at a time: never more than one live instance not yet running (a window of 2
    # running instances can be too short to sample on a loaded machine; this cannot be missed)
    assert max(samples) <= 1, f"the roll replaced one instance at a time (not running per sample: {samples})"
    final = live(agent)
    assert sorted(a["JobVersion"] for a in final) == [1, 1, 1]
    dep = agent.get("/v1/job/todo/deployment")
    assert dep["TaskGroups"]["web"]["HealthyAllocs"] == 3
    assert dep["TaskGroups"]["web"]["PlacedAllocs"] == 3
