"""Manual allocation health (`update { health_check = "manual" }`) through the real API, with
the scheduler and deployment controller running on real etcd: the controller never judges
such allocations, the user's verdicts (`POST /v1/deployment/allocation-health/:id`) carry
the deployment to success or failure, and groups not in manual mode are refused."""

from __future__ import annotations

from typing import Any

import nomad
import pytest

from reconciler.cli.client import ApiClient, ApiClientError
from reconciler.model.job import UpdateStrategy
from reconciler.spec import job_to_nomad
from tests.factories import mock_job
from tests.waiting import wait_for


def submit(api: ApiClient, job_id: str, health_check: str) -> dict[str, Any]:
    """Submit a two-instance job; its deployment once both allocations are placed."""
    upd = UpdateStrategy(min_healthy_time=0, health_check=health_check, max_parallel=2)
    api.post("/v1/jobs", {"Job": job_to_nomad(mock_job(2, id=job_id, update=upd))})

    def placed() -> dict[str, Any] | None:
        d = api.get(f"/v1/job/{job_id}/deployment")
        return d if d and d["TaskGroups"]["web"]["PlacedAllocs"] == 2 else None

    wait_for(lambda: placed() is not None, timeout=20, message=f"{job_id}: both allocations placed")
    dep = placed()
    assert dep is not None
    return dep


def alloc_ids(api: ApiClient, dep_id: str) -> list[str]:
    return sorted(a["ID"] for a in api.get(f"/v1/deployment/allocations/{dep_id}"))


def health(
    api: ApiClient, dep_id: str, healthy: list[str], unhealthy: tuple[str, ...] = ()
) -> dict[str, Any]:
    body = {"HealthyAllocationIDs": healthy, "UnhealthyAllocationIDs": list(unhealthy)}
    out: dict[str, Any] = api.post(f"/v1/deployment/allocation-health/{dep_id}", body)
    return out


def test_manual_verdicts_complete_the_deployment(cluster: ApiClient) -> None:
    dep = submit(cluster, "manual", "manual")
    first, second = alloc_ids(cluster, dep["ID"])
    assert dep["Status"] == "running"
    assert dep["TaskGroups"]["web"]["HealthyAllocs"] == 0  # running allocations, yet not judged
    out = health(cluster, dep["ID"], [first])
    assert set(out) >= {"EvalID", "EvalCreateIndex", "DeploymentModifyIndex", "RevertedJobVersion", "Index"}
    assert cluster.get(f"/v1/evaluation/{out['EvalID']}")["TriggeredBy"] == "deployment-watcher"
    wait_for(
        lambda: cluster.get(f"/v1/deployment/{dep['ID']}")["TaskGroups"]["web"]["HealthyAllocs"] == 1,
        timeout=20,
        message="the verdict counted",
    )
    assert cluster.get(f"/v1/deployment/{dep['ID']}")["Status"] == "running"
    client = nomad.Nomad(address=cluster.address, timeout=10)  # python-nomad's call
    client.deployment.deployment_allocation_health(dep["ID"], healthy_allocations=[second])
    wait_for(
        lambda: cluster.get(f"/v1/deployment/{dep['ID']}")["Status"] == "successful",
        timeout=20,
        message="deployment successful",
    )
    with pytest.raises(ApiClientError) as refused:
        health(cluster, dep["ID"], [first])
    assert refused.value.status == 400
    assert "terminal deployment" in refused.value.message


def test_an_unhealthy_verdict_fails_the_deployment(cluster: ApiClient) -> None:
    dep = submit(cluster, "manual", "manual")
    first, second = alloc_ids(cluster, dep["ID"])
    with pytest.raises(ApiClientError) as refused:
        health(cluster, dep["ID"], [first], (first,))
    assert "both healthy and unhealthy" in refused.value.message
    with pytest.raises(ApiClientError) as refused:
        health(cluster, dep["ID"], ["not-an-alloc"])
    assert "is not part of deployment" in refused.value.message
    health(cluster, dep["ID"], [], (second,))
    wait_for(
        lambda: cluster.get(f"/v1/deployment/{dep['ID']}")["Status"] == "failed",
        timeout=20,
        message="deployment failed",
    )


def test_a_group_not_in_manual_mode_is_refused(cluster: ApiClient) -> None:
    dep = submit(cluster, "auto", "checks")
    with pytest.raises(ApiClientError) as refused:
        health(cluster, dep["ID"], alloc_ids(cluster, dep["ID"])[:1])
    assert refused.value.status == 400
    assert "does not use manual health checks" in refused.value.message
    with pytest.raises(ApiClientError) as refused:
        health(cluster, "no-such-deployment", ["x"])
    assert refused.value.status == 404
