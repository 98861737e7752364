"""Deployment status steps (pure): counts, promotion, success, failure, deadlines,
cancellation and auto-revert."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytest

from controllers.deployments.progress import step
from reconciler.model.objects import AllocHealth, Deployment, DeploymentStatus, JobRecord
from tests.deployments.factories import deployment, job, new

JOB = job(3)


def rec(version: int = 1, *, stable: bool = False, stop: bool = False) -> JobRecord:
    return JobRecord(
        namespace="default",
        id="web",
        version=version,
        job=JOB,
        spec_hash=str(version),
        stable=stable,
        stop=stop,
    )


NEW3 = [new(JOB, i) for i in range(3)]
CANARY = [new(JOB, 0, canary=True)]


def ok(*ids: str) -> dict[str, AllocHealth]:
    return {i: AllocHealth(healthy=True) for i in ids}


@dataclass
class Case:
    name: str
    dep: Deployment
    allocs: list[Any]
    health: dict[str, AllocHealth]
    status: str
    description: str
    job: JobRecord | None = field(default_factory=rec)
    history: list[JobRecord] = field(default_factory=list)
    now: float = 100.0
    stable: bool = False
    revert: int | None = None
    notify: bool = False


CASES = [
    Case(
        "all healthy: successful, and the version becomes stable",
        deployment(),
        NEW3,
        ok("new0", "new1", "new2"),
        "successful",
        "Deployment completed successfully",
        stable=True,
    ),
    Case(
        "some healthy: running, the scheduler is told",
        deployment(),
        NEW3,
        ok("new0"),
        "running",
        "Deployment is running",
        notify=True,
    ),
    Case(
        "an unhealthy allocation fails it",
        deployment(),
        NEW3,
        {"new1": AllocHealth(healthy=False)},
        "failed",
        "Failed due to unhealthy allocations",
    ),
    Case(
        "auto_revert rolls back to the newest older stable version",
        deployment(auto_revert=True),
        NEW3,
        {"new1": AllocHealth(healthy=False)},
        "failed",
        "Failed due to unhealthy allocations - rolling back to job version 0",
        history=[rec(1), rec(0, stable=True)],
        revert=0,
    ),
    Case(
        "auto_revert without a stable version says so",
        deployment(auto_revert=True),
        NEW3,
        {"new1": AllocHealth(healthy=False)},
        "failed",
        "Failed due to unhealthy allocations - no stable job version to auto revert to",
        history=[rec(1), rec(0)],
    ),
    Case(
        "past the progress deadline: failed",
        deployment(require_progress_by=50.0),
        NEW3,
        {},
        "failed",
        "Failed due to progress deadline",
    ),
    Case(
        "a healthy canary waits for a manual promotion",
        deployment(canaries=1),
        CANARY,
        ok("new0c"),
        "running",
        "Deployment is running but requires manual promotion",
        notify=True,
    ),
    Case(
        "a canary waiting for promotion is not failed by the progress deadline",
        deployment(canaries=1, require_progress_by=50.0),
        CANARY,
        ok("new0c"),
        "running",
        "Deployment is running but requires manual promotion",
        notify=True,
    ),
    Case(
        "auto_promote promotes once the canaries are healthy",
        deployment(canaries=1, auto_promote=True),
        CANARY,
        ok("new0c"),
        "running",
        "Deployment is running",
        notify=True,
    ),
    Case(
        "auto_promote waits for the canaries",
        deployment(canaries=1, auto_promote=True),
        CANARY,
        {},
        "running",
        "Deployment is running pending automatic promotion",
    ),
    Case(
        "promoted canary plus two healthy: successful",
        deployment(canaries=1, promoted=True),
        [*CANARY, new(JOB, 1), new(JOB, 2)],
        ok("new0c", "new1", "new2"),
        "successful",
        "Deployment completed successfully",
        stable=True,
    ),
    Case(
        "the job stopped: cancelled",
        deployment(),
        NEW3,
        {},
        "cancelled",
        "Cancelled because job is stopped",
        job=rec(2, stop=True),
    ),
    Case(
        "a newer version: cancelled",
        deployment(),
        NEW3,
        {},
        "cancelled",
        "Cancelled due to newer version of job",
        job=rec(2),
    ),
    Case(
        "paused: counts move, status does not",
        deployment(status=DeploymentStatus.PAUSED),
        NEW3,
        ok("new0", "new1", "new2"),
        "paused",
        "",
    ),
    Case(
        "failed by the user with auto_revert: the revert is decided once",
        deployment(status=DeploymentStatus.FAILED, auto_revert=True),
        NEW3,
        {},
        "failed",
        "Deployment marked as failed - rolling back to job version 0",
        history=[rec(1), rec(0, stable=True)],
        revert=0,
    ),
    Case(
        "failed with auto_revert after the job moved on: nothing to revert",
        deployment(status=DeploymentStatus.FAILED, auto_revert=True),
        NEW3,
        {},
        "failed",
        "Deployment marked as failed",
        job=rec(2),
        history=[rec(2), rec(1), rec(0, stable=True)],
    ),
    Case(
        "a revert decided already (state, whatever the description) is not asked again",
        dataclasses.replace(
            deployment(status=DeploymentStatus.FAILED, auto_revert=True), auto_revert_decided=True
        ),
        NEW3,
        {},
        "failed",
        "Deployment marked as failed",
        history=[rec(1), rec(0, stable=True)],
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_step(case: Case) -> None:
    dep = case.dep
    if dep.status == DeploymentStatus.FAILED:
        dep.status_description = "Deployment marked as failed"
    s = step(dep, case.job, case.allocs, case.health, case.history, now=case.now)
    assert (s.deployment.status, s.deployment.status_description) == (case.status, case.description)
    assert (s.mark_stable, s.revert_to, s.notify_scheduler) == (case.stable, case.revert, case.notify)
    again = step(s.deployment, case.job, case.allocs, {}, case.history, now=case.now)
    assert again.revert_to is None, "a revert is asked for once"


def test_counts() -> None:
    allocs = [*CANARY, new(JOB, 1), new(JOB, 2)]
    s = step(
        deployment(canaries=1, promoted=True),
        rec(),
        allocs,
        {"new0c": AllocHealth(healthy=True), "new1": AllocHealth(healthy=False)},
        [],
        now=0.0,
    )
    g = s.deployment.task_groups["web"]
    assert (g.placed_allocs, g.healthy_allocs, g.unhealthy_allocs, g.placed_canaries) == (3, 1, 1, ["new0c"])


def test_progress_deadline_moves_when_an_allocation_becomes_healthy() -> None:
    s = step(
        deployment(require_progress_by=50.0, progress_deadline=600 * 10**9),
        rec(),
        NEW3,
        ok("new0"),
        [],
        now=40.0,
    )
    assert s.deployment.task_groups["web"].require_progress_by == 640.0
    assert s.look_again_at == 640.0
