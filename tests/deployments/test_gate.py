"""The scheduler's deployment gate, table-driven through `reconcile` (pure, no etcd):
canaries beside the old version, nothing replaced until promotion, promoted canaries taking
over their index, then max_parallel minus the not-yet-healthy new allocations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from controllers.scheduler.buckets import ReconcileResult
from controllers.scheduler.deployment_create import new_deployment
from controllers.scheduler.reconcile import reconcile
from controllers.scheduler.update_policy import always_destructive, always_inplace
from reconciler.model.objects import Allocation, Deployment, DeploymentStatus
from tests.deployments.factories import deployment, job, new, olds
from tests.scheduler.factories import mock_node, nodes_map

NODES = nodes_map(mock_node("n1"))


@dataclass
class Case:
    name: str
    job: Any
    allocs: list[Allocation]
    dep: Deployment | None
    place: int = 0
    stop: int = 0
    destructive: int = 0
    canaries: int = 0
    statuses: dict[str, str] = field(default_factory=dict)
    check: Callable[[ReconcileResult], bool] | None = None
    version: int = 1


def _canaries(r: ReconcileResult) -> list[int]:
    return sorted(p.index for p in r.place if p.canary)


def _stopped(r: ReconcileResult) -> list[str]:
    return sorted(s.alloc.id for s in r.stop)


CASES = [
    Case(
        "canary = 1 places one canary beside the old allocations and replaces nothing",
        job(3, canary=1, max_parallel=3),
        olds(job(), 3),
        deployment(canaries=1),
        place=1,
        canaries=1,
        check=lambda r: _canaries(r) == [0] and not r.stop,
    ),
    Case(
        "canary = 2 takes the indexes of the first two old allocations",
        job(3, canary=2),
        olds(job(), 3),
        deployment(canaries=2),
        place=2,
        canaries=2,
        check=lambda r: _canaries(r) == [0, 1],
    ),
    Case(
        "a placed canary is not placed again and still nothing is replaced",
        job(3, canary=1, max_parallel=3),
        [*olds(job(), 3), new(job(), 0, canary=True)],
        deployment(canaries=1, healthy=("new0c",)),
        check=lambda r: "new0c" in {a.id for a in r.ignore},
    ),
    Case(
        "a healthy canary waiting for promotion still holds everything back",
        job(3, canary=1, max_parallel=3),
        [*olds(job(), 3), new(job(), 0, canary=True)],
        deployment(canaries=1, healthy=("new0c",)),
    ),
    Case(
        "promotion: the canary takes over its index and the rest roll per max_parallel",
        job(3, canary=1, max_parallel=3),
        [*olds(job(), 3), new(job(), 0, canary=True)],
        deployment(canaries=1, promoted=True, healthy=("new0c",)),
        place=2,
        stop=3,
        destructive=2,
        check=lambda r: _stopped(r) == ["old0", "old1", "old2"] and not _canaries(r),
    ),
    Case(
        "promoted with max_parallel 1: the displaced one plus one replacement",
        job(3, canary=1, max_parallel=1),
        [*olds(job(), 3), new(job(), 0, canary=True)],
        deployment(canaries=1, promoted=True, healthy=("new0c",)),
        place=1,
        stop=2,
        destructive=1,
    ),
    Case(
        "an unpromoted canary of an older deployment is stopped; the new deployment places its own",
        job(3, canary=1, max_parallel=3),
        [*olds(job(), 3), new(job(), 0, version=1, canary=True, dep="older")],
        deployment(canaries=1, version=2),
        place=1,
        stop=1,
        canaries=1,
        check=lambda r: [s.alloc.id for s in r.stop] == ["new0c"],
        version=2,
    ),
    Case(
        "a promoted canary of an older deployment is a member like any other",
        job(3, max_parallel=1),
        [new(job(), 0, version=1, canary=True, dep="older"), *olds(job(), 3)[1:]],
        deployment(version=2),
        place=1,
        stop=1,
        destructive=1,
        check=lambda r: (
            [s.alloc.id for s in r.stop] == ["new0c"]
            and r.stop[0].description.startswith("alloc is being updated")
        ),
        version=2,
    ),
    Case(
        "a rolling update replaces max_parallel at first",
        job(3, max_parallel=1),
        olds(job(), 3),
        deployment(),
        place=1,
        stop=1,
        destructive=1,
    ),
    Case(
        "no further replacement while the new allocation is not healthy (even if running)",
        job(3, max_parallel=1),
        [*olds(job(), 2), new(job(), 2)],
        deployment(),
        statuses={"new2": "running"},
    ),
    Case(
        "the next replacement once the new allocation is healthy",
        job(3, max_parallel=1),
        [*olds(job(), 2), new(job(), 2)],
        deployment(healthy=("new2",)),
        place=1,
        stop=1,
        destructive=1,
    ),
    Case(
        "max_parallel 2 with one unhealthy-so-far leaves room for one",
        job(4, max_parallel=2),
        [*olds(job(4), 3), new(job(4), 3)],
        deployment(total=4),
        place=1,
        stop=1,
        destructive=1,
    ),
    Case(
        "a paused deployment replaces nothing",
        job(3, max_parallel=3),
        olds(job(), 3),
        deployment(status=DeploymentStatus.PAUSED),
    ),
    Case(
        "a failed deployment replaces nothing",
        job(3, max_parallel=3),
        olds(job(), 3),
        deployment(status=DeploymentStatus.FAILED),
    ),
    Case(
        "a failed deployment places no canary",
        job(3, canary=1),
        olds(job(), 3),
        deployment(canaries=1, status=DeploymentStatus.FAILED),
    ),
    Case(
        "a deployment of another version does not gate (legacy max_parallel applies)",
        job(3, max_parallel=3),
        olds(job(), 3),
        deployment(version=7),
        place=3,
        stop=3,
        destructive=3,
    ),
    Case(
        "without a deployment, max_parallel gates as before",
        job(3, max_parallel=2),
        olds(job(), 3),
        None,
        place=2,
        stop=2,
        destructive=2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gate(case: Case) -> None:
    from reconciler.model.objects import AllocStatus

    statuses = {a: AllocStatus(alloc_id=a, node_id="n1", client_status=s) for a, s in case.statuses.items()}
    r = reconcile(
        case.job,
        case.allocs,
        statuses,
        nodes=NODES,
        job_version=case.version,
        deployment=case.dep,
        now=1000.0,
        update_fn=always_destructive,
    )
    got = {
        "place": len(r.place),
        "stop": len(r.stop),
        "destructive": len(r.destructive_update),
        "canaries": len(_canaries(r)),
    }
    assert got == {
        "place": case.place,
        "stop": case.stop,
        "destructive": case.destructive,
        "canaries": case.canaries,
    }
    if case.check is not None:
        assert case.check(r), r


def test_canaries_are_reported_in_desired_updates() -> None:
    r = reconcile(
        job(3, canary=1),
        olds(job(), 3),
        {},
        nodes=NODES,
        job_version=1,
        deployment=deployment(canaries=1),
        now=0.0,
        update_fn=always_destructive,
    )
    u = r.desired_tg_updates["web"]
    assert (u.canary, u.ignore, u.destructive_update) == (1, 3, 0)


@dataclass
class NewCase:
    name: str
    allocs: list[Allocation]
    update_fn: Any
    want: dict[str, tuple[int, int]] | None  # group -> (desired_total, desired_canaries); None: no deployment


NEW_CASES = [
    NewCase("first registration: a deployment without canaries", [], always_destructive, {"web": (3, 0)}),
    NewCase(
        "a destructive update asks for the canaries", olds(job(), 3), always_destructive, {"web": (3, 1)}
    ),
    NewCase("an in-place update needs no deployment", olds(job(), 3), always_inplace, None),
    NewCase(
        "allocations already at this version need none",
        [new(job(), i, dep="") for i in range(3)],
        always_destructive,
        None,
    ),
]


@pytest.mark.parametrize("case", NEW_CASES, ids=[c.name for c in NEW_CASES])
def test_new_deployment(case: NewCase) -> None:
    dep = new_deployment(job(3, canary=1), 1, case.allocs, {}, dep_id="d", now=10.0, update_fn=case.update_fn)
    if case.want is None:
        assert dep is None
        return
    assert dep is not None
    assert {n: (g.desired_total, g.desired_canaries) for n, g in dep.task_groups.items()} == case.want
    assert dep.task_groups["web"].require_progress_by == 10.0 + 600.0


def test_new_deployment_words_the_wait_for_promotion() -> None:
    manual = new_deployment(
        job(3, canary=1), 1, olds(job(), 3), {}, dep_id="d", now=0, update_fn=always_destructive
    )
    auto = new_deployment(
        job(3, canary=1, auto_promote=True),
        1,
        olds(job(), 3),
        {},
        dep_id="d",
        now=0,
        update_fn=always_destructive,
    )
    assert manual is not None
    assert manual.status_description == "Deployment is running but requires manual promotion"
    assert auto is not None
    assert auto.status_description == "Deployment is running pending automatic promotion"


def test_batch_and_no_update_stanza_need_no_deployment() -> None:
    from tests.scheduler.factories import mock_job

    assert new_deployment(mock_job(3, type="batch"), 0, [], {}, dep_id="d", now=0) is None
    assert new_deployment(mock_job(3), 0, [], {}, dep_id="d", now=0) is None
