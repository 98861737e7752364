"""Deployments through the HTTP API and the CLI (real etcd, real HTTP, running scheduler and
deployment controller, a simulated node): `apply` follows the deployment as `nomad job run`
does, a canary waits for promotion, `job promote` finishes it, list/status/fail."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.client import ApiClient, ApiClientError
from reconciler.cli.main import cli
from tests.factories import job_file
from tests.waiting import wait_for


def run(api: ApiClient, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--address", api.address, *args])
    return res.exit_code, res.output


def apply(api: ApiClient, tmp_path: Path, version: str) -> tuple[int, str]:
    path = job_file(tmp_path, "sleeper", name=f"todo-{version}.nomad", release=version)
    return run(api, "apply", "-f", str(path))


def table_row(out: str, group: str = "web") -> list[str]:
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("Task Group"))
    row = next(line for line in lines[at + 1 :] if line.strip().startswith(group))
    return row.split()


def test_apply_follows_the_deployment_then_promote(cluster: ApiClient, tmp_path: Path) -> None:
    code, out = apply(cluster, tmp_path, "1")
    assert code == 0, out
    dep = re.search(r'==> .*: Monitoring deployment "([0-9a-f]{8})"', out)
    assert dep, out
    assert f'Evaluation within deployment: "{dep.group(1)}"' in out
    assert f'  ✓ Deployment "{dep.group(1)}" successful' in out
    assert "    Description = Deployment completed successfully" in out
    assert "    Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline" in out
    assert table_row(out)[:5] == ["web", "3", "3", "3", "0"]

    job_file(tmp_path, "sleeper", name="todo-plan.nomad", release="2")
    code, out = run(cluster, "plan", "-f", str(tmp_path / "todo-plan.nomad"))
    assert '+/- Task Group: "web" (1 canary, 3 ignore)' in out, out

    code, out = apply(cluster, tmp_path, "2")
    assert code == 0, out
    canary_dep = re.search(r'Monitoring deployment "([0-9a-f]{8})"', out)
    assert canary_dep, out
    assert "    Description = Deployment is running but requires manual promotion" in out
    assert "    Task Group  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy  Progress Deadline" in out
    assert table_row(out)[:7] == ["web", "false", "3", "1", "1", "1", "0"]
    allocs = cluster.get("/v1/job/todo/allocations")
    live = sorted((a["JobVersion"], a["DesiredStatus"]) for a in allocs if a["DesiredStatus"] == "run")
    assert live == [(0, "run")] * 3 + [(1, "run")], "one canary beside the three old allocations"

    latest = cluster.get("/v1/job/todo/deployment")
    assert latest["ID"].startswith(canary_dep.group(1))
    assert latest["JobVersion"] == 1
    tg = latest["TaskGroups"]["web"]
    assert {
        k: tg[k]
        for k in (
            "Promoted",
            "DesiredCanaries",
            "DesiredTotal",
            "PlacedAllocs",
            "HealthyAllocs",
            "UnhealthyAllocs",
            "AutoRevert",
            "AutoPromote",
        )
    } == {
        "Promoted": False,
        "DesiredCanaries": 1,
        "DesiredTotal": 3,
        "PlacedAllocs": 1,
        "HealthyAllocs": 1,
        "UnhealthyAllocs": 0,
        "AutoRevert": False,
        "AutoPromote": False,
    }
    assert len(tg["PlacedCanaries"]) == 1
    assert tg["RequireProgressBy"].endswith("Z")

    code, out = run(cluster, "deployment", "list")
    assert code == 0, out
    assert re.search(
        rf"^{canary_dep.group(1)}\s+todo\s+1\s+running\s+Deployment is running but", out, re.M
    ), out
    code, out = run(cluster, "deployment", "status", canary_dep.group(1))
    assert code == 0, out
    assert "Promoted  Desired  Canaries" in out, out

    code, out = run(cluster, "job", "promote", "todo")
    assert code == 0, out
    assert f'  ✓ Deployment "{canary_dep.group(1)}" successful' in out
    assert table_row(out)[:7] == ["web", "true", "3", "1", "3", "3", "0"]
    versions = {v["Version"]: v["Stable"] for v in cluster.get("/v1/job/todo/versions")["Versions"]}
    assert versions == {0: True, 1: True}
    allocs = cluster.get("/v1/job/todo/allocations")
    assert sorted(a["JobVersion"] for a in allocs if a["DesiredStatus"] == "run") == [1, 1, 1]

    with pytest.raises(ApiClientError) as refused:  # promoting a finished deployment must fail
        cluster.post(f"/v1/deployment/promote/{latest['ID']}", {"All": True})
    assert refused.value.status == 400
    assert "terminal deployment" in refused.value.message


def test_fail_and_pause_through_the_api(cluster: ApiClient, tmp_path: Path) -> None:
    assert apply(cluster, tmp_path, "1")[0] == 0
    code, out = apply(cluster, tmp_path, "2")
    assert code == 0, out
    dep = cluster.get("/v1/job/todo/deployment")
    paused = cluster.post(f"/v1/deployment/pause/{dep['ID']}", {"Pause": True})
    assert paused["Deployment"]["Status"] == "paused"
    assert paused["EvalID"]
    resumed = cluster.post(f"/v1/deployment/pause/{dep['ID']}", {"Pause": False})
    assert resumed["Deployment"]["StatusDescription"] == "Deployment is running but requires manual promotion"
    code, out = run(cluster, "deployment", "fail", dep["ID"][:8])
    assert code == 0, out
    wait_for(lambda: cluster.get(f"/v1/deployment/{dep['ID']}")["Status"] == "failed", message="failed")
    assert cluster.get(f"/v1/deployment/{dep['ID']}")["StatusDescription"] == "Deployment marked as failed"
    assert [d["JobVersion"] for d in cluster.get("/v1/job/todo/deployments")] == [1, 0]
    for bad in ({}, {"Groups": []}, {"Groups": ["nope"]}):
        with pytest.raises(ApiClientError) as refused:
            cluster.post(f"/v1/deployment/promote/{dep['ID']}", bad)
        assert refused.value.status == 400, f"{bad} must be refused"
