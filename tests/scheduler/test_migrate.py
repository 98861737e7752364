"""The drain's migration, pure: when a replacement is healthy (`migrate_ready`) and how many
of a group move at once (`migrate_group`, through `reconcile`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from controllers.scheduler.reconcile import reconcile
from reconciler.model.alloc_health import Readiness, migrate_ready
from reconciler.model.ids import AllocId
from reconciler.model.job import Check, EphemeralDisk, HealthCheck, Job, MigrateStrategy, Service
from reconciler.model.objects import AllocStatus, ClientStatus, DesiredStatus, TaskRunState, TaskState
from reconciler.model.services import CheckState, CheckStatus
from tests.scheduler.factories import mock_alloc, mock_job, mock_node, nodes_map

NOW = 1_000_000.0
NODES = nodes_map(mock_node("n1", drain=True), mock_node("n2"))


def _job(count: int, *, checks: int = 1, **migrate: object) -> Job:
    job = mock_job(count)
    g = job.task_groups[0]
    services = (
        [Service(name="web", checks=[Check(name=f"c{i}", type="http") for i in range(checks)])]
        if checks
        else []
    )
    g = dataclasses.replace(g, services=services, migrate=dataclasses.replace(MigrateStrategy(), **migrate))
    return dataclasses.replace(job, task_groups=[g])


def _running(alloc_id: str, since: float) -> AllocStatus:
    return AllocStatus(
        alloc_id=AllocId(alloc_id),
        node_id="n2",
        client_status=ClientStatus.RUNNING,
        task_states={"server": TaskState(state=TaskRunState.RUNNING, started_at=since)},
    )


def _check(alloc_id: str, state: CheckState, at: float, name: str = "c0") -> CheckStatus:
    return CheckStatus(alloc_id=AllocId(alloc_id), check_id=name, status=state, time=at)


@dataclass
class Ready:
    id: str
    status: AllocStatus | None
    checks: list[CheckStatus]
    want: Readiness
    job: Job = field(default_factory=lambda: _job(1))
    created: float = NOW - 20


READY = [
    Ready("not running yet: wait for an event", None, [], Readiness(False, False, NOW + 280)),
    Ready("running, no check result: wait", _running("r", NOW - 20), [], Readiness(False, False, NOW + 280)),
    Ready(
        "running, check critical: wait",
        _running("r", NOW - 20),
        [_check("r", CheckState.CRITICAL, NOW - 1)],
        Readiness(False, False, NOW + 280),
    ),
    Ready(
        "checks passing for min_healthy_time: healthy",
        _running("r", NOW - 20),
        [_check("r", CheckState.PASSING, NOW - 10)],
        Readiness(True, False, None),
    ),
    Ready(
        "checks passing, not long enough: look again then",
        _running("r", NOW - 20),
        [_check("r", CheckState.PASSING, NOW - 4)],
        Readiness(False, False, NOW + 6),
    ),
    Ready(
        "one of two checks passing: wait",
        _running("r", NOW - 20),
        [_check("r", CheckState.PASSING, NOW - 30)],
        Readiness(False, False, NOW + 280),
        job=_job(1, checks=2),
    ),
    Ready(
        "task started late: min_healthy_time counts from the task",
        _running("r", NOW - 3),
        [_check("r", CheckState.PASSING, NOW - 30)],
        Readiness(False, False, NOW + 7),
    ),
    Ready(
        "task_states ignores the checks",
        _running("r", NOW - 10),
        [_check("r", CheckState.CRITICAL, NOW)],
        Readiness(True, False, None),
        job=_job(1, health_check=HealthCheck.TASK_STATES),
    ),
    Ready(
        "no checks defined: task states",
        _running("r", NOW - 2),
        [],
        Readiness(False, False, NOW + 8),
        job=_job(1, checks=0),
    ),
    Ready(
        "past healthy_deadline: expired",
        _running("r", NOW - 20),
        [],
        Readiness(False, True, None),
        created=NOW - 400,
    ),
]


@pytest.mark.parametrize("case", READY, ids=[c.id for c in READY])
def test_migrate_ready(case: Ready) -> None:
    g = case.job.task_groups[0]
    assert migrate_ready(g, case.status, case.checks, g.migrate, created=case.created, now=NOW) == case.want


def _drained(job: Job, n: int) -> list:
    return [mock_alloc(job, i, node="n1") for i in range(n)]


def _replacement(job: Job, i: int) -> object:
    return mock_alloc(
        job, i, node="n2", id=f"r{i}", previous_allocation=f"a-web-{i}-0-n1", create_time=NOW - 30
    )


@dataclass
class Step:
    id: str
    job: Job
    replaced: list[int]  # indexes that have a replacement
    healthy: list[int]  # of those, the healthy ones (running and checks passing for long enough)
    want_place: list[int]
    want_stop: list[int]
    want_look_again: float | None = None
    passing_at: float = NOW - 30


STEPS = [
    Step("one at a time by default", _job(3), [], [], [0], []),
    Step("max_parallel moves that many at once", _job(3, max_parallel=2), [], [], [0, 1], []),
    Step(
        "an unhealthy replacement holds its original and the next one back",
        _job(3),
        [0],
        [],
        [],
        [],
        want_look_again=NOW + 270,
    ),  # its healthy_deadline
    Step("a healthy replacement stops its original and the next one moves", _job(3), [0], [0], [1], [0]),
    Step(
        "not healthy for long enough: look again when it will be",
        _job(2),
        [0],
        [0],
        [],
        [],
        want_look_again=NOW + 8,
        passing_at=NOW - 2,
    ),
    Step(
        "with max_parallel 2, one healthy frees one slot",
        _job(4, max_parallel=2),
        [0, 1],
        [1],
        [2],
        [1],
        want_look_again=NOW + 270,
    ),
]


@pytest.mark.parametrize("case", STEPS, ids=[c.id for c in STEPS])
def test_drain_moves_max_parallel_and_waits_for_health(case: Step) -> None:
    job = case.job
    allocs = _drained(job, job.task_groups[0].count) + [_replacement(job, i) for i in case.replaced]
    statuses = {f"r{i}": _running(f"r{i}", NOW - 30) for i in case.replaced}
    checks = {
        f"r{i}": [
            _check(f"r{i}", CheckState.PASSING if i in case.healthy else CheckState.CRITICAL, case.passing_at)
        ]
        for i in case.replaced
    }
    r = reconcile(job, allocs, statuses, nodes=NODES, now=NOW, checks=checks)  # type: ignore[arg-type]
    assert sorted(p.index for p in r.place if p.reason == "migrate") == case.want_place
    assert sorted(s.alloc.index for s in r.stop) == case.want_stop
    assert r.look_again_at() == case.want_look_again


def _sticky(job: Job) -> Job:
    g = dataclasses.replace(job.task_groups[0], ephemeral_disk=EphemeralDisk(300, sticky=True))
    return dataclasses.replace(job, task_groups=[g])


def test_a_sticky_disk_stops_its_original_as_the_replacement_is_placed() -> None:
    """The replacement takes over the original's data once it has stopped, so the original
    cannot stay up beside it: it stops in the same plan (Nomad's drain). Its replacement,
    not healthy yet, still holds the max_parallel slot."""
    job = _sticky(_job(3))
    first = reconcile(job, _drained(job, 3), {}, nodes=NODES, now=NOW)
    assert [p.index for p in first.place if p.reason == "migrate"] == [0]
    assert [s.alloc.index for s in first.stop] == [0]

    stopped = dataclasses.replace(_drained(job, 3)[0], desired_status=DesiredStatus.STOP)
    allocs = [stopped, *_drained(job, 3)[1:], _replacement(job, 0)]
    statuses = {"r0": _running("r0", NOW - 30)}
    unhealthy = {"r0": [_check("r0", CheckState.CRITICAL, NOW - 30)]}
    held = reconcile(job, allocs, statuses, nodes=NODES, now=NOW, checks=unhealthy)  # type: ignore[arg-type]
    assert not held.place
    assert not held.stop
    assert held.look_again_at() == NOW + 270  # its healthy_deadline

    healthy = {"r0": [_check("r0", CheckState.PASSING, NOW - 30)]}
    moved_on = reconcile(job, allocs, statuses, nodes=NODES, now=NOW, checks=healthy)  # type: ignore[arg-type]
    assert [p.index for p in moved_on.place if p.reason == "migrate"] == [1]
    assert [s.alloc.index for s in moved_on.stop] == [1]
