"""Allocation health (pure): task states or checks for min_healthy_time, the healthy
deadline, failures, and the final verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from controllers.deployments.health import judge
from reconciler.model.job import SECOND, Check, Service, TaskGroup, UpdateStrategy
from reconciler.model.objects import AllocHealth, AllocStatus, TaskState
from reconciler.model.services import CheckState, CheckStatus
from tests.deployments.factories import job, new, running

JOB = job(3)
GROUP = JOB.task_groups[0]
WITH_CHECKS = TaskGroup(
    name="web", count=3, tasks=GROUP.tasks, services=[Service(name="web", checks=[Check(name="c1")])]
)
ALLOC = new(JOB, 0, create_time=100.0)


def upd(**kw: Any) -> UpdateStrategy:
    return UpdateStrategy(
        **{
            "min_healthy_time": 10 * SECOND,
            "healthy_deadline": 60 * SECOND,
            "health_check": "task_states",
            **kw,
        }
    )


@dataclass
class Case:
    name: str
    status: AllocStatus | None
    now: float
    want: bool | None
    upd: UpdateStrategy = field(default_factory=upd)
    checks: list[CheckStatus] = field(default_factory=list)
    group: Any = None
    prev: AllocHealth | None = None
    look: float | None = None


FAILED = AllocStatus(alloc_id=ALLOC.id, node_id="n1", client_status="failed")
PENDING = AllocStatus(alloc_id=ALLOC.id, node_id="n1", client_status="pending")
DEAD_TASK = AllocStatus(
    alloc_id=ALLOC.id,
    node_id="n1",
    client_status="running",
    task_states={"server": TaskState(state="dead", failed=True)},
)
PASS = [CheckStatus(alloc_id=ALLOC.id, check_id="c1", status=CheckState.PASSING)]
CRIT = [CheckStatus(alloc_id=ALLOC.id, check_id="c1", status=CheckState.CRITICAL)]

CASES = [
    Case("no status yet: undecided until the healthy deadline", None, 110.0, None, look=160.0),
    Case("pending past the healthy deadline: unhealthy", PENDING, 160.0, False),
    Case(
        "running, not for min_healthy_time yet: undecided",
        running(ALLOC, started=105.0),
        110.0,
        None,
        look=115.0,
    ),
    Case("running for min_healthy_time: healthy", running(ALLOC, started=105.0), 115.0, True),
    Case("a failed allocation is unhealthy at once", FAILED, 101.0, False),
    Case("a dead task is unhealthy", DEAD_TASK, 101.0, False),
    Case("a verdict is final", FAILED, 200.0, True, prev=AllocHealth(healthy=True)),
    Case(
        "manual health: never judged",
        running(ALLOC, started=0.0),
        1000.0,
        None,
        upd=upd(health_check="manual"),
    ),
    Case(
        "checks: a group without checks falls back to task states",
        running(ALLOC, started=105.0),
        115.0,
        True,
        upd=upd(health_check="checks"),
    ),
    Case(
        "checks: running but a check critical is not healthy",
        running(ALLOC, started=105.0),
        130.0,
        None,
        upd=upd(health_check="checks"),
        checks=CRIT,
        group=WITH_CHECKS,
        look=160.0,
    ),
    Case(
        "checks: no check result yet is not healthy",
        running(ALLOC, started=105.0),
        130.0,
        None,
        upd=upd(health_check="checks"),
        group=WITH_CHECKS,
        look=160.0,
    ),
    Case(
        "checks: passing first seen now starts min_healthy_time",
        running(ALLOC, started=105.0),
        130.0,
        None,
        upd=upd(health_check="checks"),
        checks=PASS,
        group=WITH_CHECKS,
        look=140.0,
    ),
    Case(
        "checks: passing since 120 is healthy at 130",
        running(ALLOC, started=105.0),
        130.0,
        True,
        upd=upd(health_check="checks"),
        checks=PASS,
        group=WITH_CHECKS,
        prev=AllocHealth(passing_since=120.0),
    ),
    Case(
        "task_states ignores critical checks",
        running(ALLOC, started=105.0),
        115.0,
        True,
        checks=CRIT,
        group=WITH_CHECKS,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_judge(case: Case) -> None:
    j = judge(ALLOC, case.status, case.checks, case.group or GROUP, case.upd, case.prev, now=case.now)
    assert j.health.healthy is case.want
    assert j.look_again_at == case.look
