"""Promote, fail and pause as pure rules."""

from __future__ import annotations

import pytest

from reconciler.deployments import DeploymentError, apply_fail, apply_pause, apply_promote
from reconciler.deployments.rules import apply_alloc_health
from reconciler.model.objects import DeploymentStatus
from tests.deployments.factories import deployment


def test_promote_needs_every_canary_healthy() -> None:
    dep = deployment(canaries=1, placed_canaries=["c"])
    with pytest.raises(DeploymentError, match="0/1 healthy canaries"):
        apply_promote(dep, None, now=0)
    dep.healthy_alloc_ids = ["c"]
    out = apply_promote(dep, None, now=0)
    assert out.task_groups["web"].promoted
    assert out.status_description == "Deployment is running"
    assert not dep.task_groups["web"].promoted, "the input is not changed"


@pytest.mark.parametrize(
    ("dep", "groups", "message"),
    [
        (deployment(), None, "no canaries to promote"),
        (deployment(canaries=1), ["db"], "no task group 'db'"),
        (deployment(canaries=1, status=DeploymentStatus.SUCCESSFUL), None, "terminal deployment"),
    ],
    ids=["nothing to promote", "an unknown group", "a finished deployment"],
)
def test_promote_refused(dep: object, groups: list[str] | None, message: str) -> None:
    with pytest.raises(DeploymentError, match=message):
        apply_promote(dep, groups, now=0)  # type: ignore[arg-type]


def test_fail_and_pause() -> None:
    failed = apply_fail(deployment(), now=1)
    assert (failed.status, failed.status_description) == ("failed", "Deployment marked as failed")
    with pytest.raises(DeploymentError):
        apply_fail(failed, now=2)
    paused = apply_pause(deployment(canaries=1), True, now=1)
    assert (paused.status, paused.status_description) == ("paused", "Deployment is paused")
    resumed = apply_pause(paused, False, now=2)
    assert (resumed.status, resumed.status_description) == (
        "running",
        "Deployment is running but requires manual promotion",
    )


def test_health_is_stored_compactly_and_round_trips() -> None:
    from reconciler import codec
    from reconciler.deployments.health import health_map, health_of, store_health
    from reconciler.model.ids import new_id
    from reconciler.model.objects import AllocHealth

    dep = deployment()
    health = {new_id(): AllocHealth(healthy=True) for _ in range(10_000)}
    health["bad"] = AllocHealth(healthy=False)
    health["soon"] = AllocHealth(passing_since=5.0)
    health["unknown"] = AllocHealth()
    store_health(dep, health)
    assert health_of(dep, "bad") is False
    assert health_of(dep, "soon") is None
    assert health_of(dep, "unknown") is None
    assert health_map(dep) == {k: v for k, v in health.items() if k != "unknown"}
    assert len(codec.encode(dep)) < 500_000, (
        "a 10,000-allocation deployment stays far below etcd's 1.5 MiB limit"
    )


GROUPS = {"a": "web", "b": "web", "c": "db"}
MANUAL = frozenset({"web"})


@pytest.mark.parametrize(
    ("healthy", "unhealthy", "prior", "message"),
    [
        ([], [], [], "at least one"),
        (["a"], ["a"], [], "both healthy and unhealthy"),
        (["x"], [], [], "not part of deployment"),
        (["c"], [], [], "'db' does not use manual health checks"),
        ([], ["a"], ["a"], "already healthy: a verdict is final"),
    ],
    ids=["nothing", "both", "not in the deployment", "not manual", "contrary to a verdict"],
)
def test_alloc_health_refused(
    healthy: list[str], unhealthy: list[str], prior: list[str], message: str
) -> None:
    dep = deployment()
    dep.healthy_alloc_ids = prior
    with pytest.raises(DeploymentError, match=message):
        apply_alloc_health(dep, GROUPS, MANUAL, healthy, unhealthy, now=1)


def test_alloc_health_records_verdicts() -> None:
    dep = deployment()
    dep.passing_since = {"b": 0.5}
    out = apply_alloc_health(dep, GROUPS, MANUAL, ["a", "a"], ["b"], now=2)
    assert (out.healthy_alloc_ids, out.unhealthy_alloc_ids, out.passing_since) == (["a"], ["b"], {})
    assert out.modify_time == 2
    assert dep.healthy_alloc_ids == [], "the input is not changed"
    again = apply_alloc_health(out, GROUPS, MANUAL, ["a"], [], now=3)  # the same verdict again is fine
    assert again.healthy_alloc_ids == ["a"]
    with pytest.raises(DeploymentError, match="terminal deployment"):
        apply_alloc_health(deployment(status=DeploymentStatus.FAILED), GROUPS, MANUAL, ["a"], [], now=1)
