"""Table-driven tests of the pure reconciler (no etcd)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from controllers.scheduler.reconcile import reconcile
from controllers.scheduler.update_policy import always_destructive, always_inplace, tasks_updated
from reconciler.model.job import SECOND, Job, ReschedulePolicy, Resources, UpdateStrategy
from reconciler.model.objects import ClientStatus, DesiredStatus, NodeStatus
from tests.scheduler.factories import (
    assert_results,
    mock_alloc,
    mock_job,
    mock_node,
    mock_status,
    nodes_map,
    with_count,
)

NOW = 1_000_000.0
JOB = mock_job(10)
NODES = nodes_map(mock_node("n1"), mock_node("n2"))


@dataclass
class Case:
    id: str
    job: Job | None
    allocs: list[Any]
    want: dict[str, int]
    statuses: dict[str, str] = field(default_factory=dict)  # alloc id -> client status
    nodes: dict[str, Any] = field(default_factory=lambda: NODES)
    kw: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Any], None] | None = None


def _allocs(job: Job, idx: range | list[int], **kw: Any) -> list[Any]:
    return [mock_alloc(job, i, **kw) for i in idx]


def _placed_indexes(r: Any) -> list[int]:
    return sorted(p.index for p in r.place)


CASES = [
    Case(
        "a new job places every instance",
        JOB,
        [],
        {"place": 10},
        check=lambda r: _placed_indexes(r) == list(range(10)) and r.place[0].name == "web.web[0]",
    ),
    Case(
        "scale up places only the missing indexes",
        JOB,
        _allocs(JOB, range(5)),
        {"place": 5},
        check=lambda r: _placed_indexes(r) == [5, 6, 7, 8, 9],
    ),
    Case(
        "scale down stops the highest indexes first",
        with_count(JOB, 3),
        _allocs(JOB, range(10)),
        {"stop": 7},
        check=lambda r: sorted(s.alloc.index for s in r.stop) == [3, 4, 5, 6, 7, 8, 9],
    ),
    Case("a stopped job stops every running allocation", None, _allocs(JOB, range(4)), {"stop": 4}),
    Case(
        "a freed index is reused",
        with_count(JOB, 4),
        _allocs(JOB, [0, 1, 3]),
        {"place": 1},
        check=lambda r: _placed_indexes(r) == [2],
    ),
    Case("nothing to do when every instance runs", JOB, _allocs(JOB, range(10)), {}),
    Case(
        "an allocation on a down node is lost and replaced",
        with_count(JOB, 2),
        _allocs(JOB, [0]) + _allocs(JOB, [1], node="n2"),
        {"place": 1, "stop": 1, "lost": 1},
        nodes=nodes_map(mock_node("n1"), mock_node("n2", status=NodeStatus.DOWN)),
        check=lambda r: r.place[0].index == 1 and r.stop[0].client_status == ClientStatus.LOST,
    ),
    Case(
        "an allocation on a vanished node is lost",
        with_count(JOB, 1),
        _allocs(JOB, [0], node="gone"),
        {"place": 1, "stop": 1, "lost": 1},
    ),
    Case(
        "a lost allocation beyond the new count is stopped, not replaced",
        with_count(JOB, 1),
        _allocs(JOB, [0]) + _allocs(JOB, [1], node="gone"),
        {"stop": 1, "lost": 1},
    ),
    Case(
        "a destructive change replaces every old allocation without an update stanza",
        JOB,
        _allocs(JOB, range(10), version=0),
        {"place": 10, "stop": 10, "destructive": 10},
        kw={"job_version": 1, "update_fn": always_destructive},
    ),
    Case(
        "max_parallel gates destructive replacements",
        dataclasses.replace(JOB, update=UpdateStrategy(max_parallel=2)),
        _allocs(JOB, range(10), version=0),
        {"place": 2, "stop": 2, "destructive": 2},
        kw={"job_version": 1, "update_fn": always_destructive},
    ),
    Case(
        "no more replacements while the replaced ones are not running",
        dataclasses.replace(with_count(JOB, 3), update=UpdateStrategy(max_parallel=1)),
        [
            *_allocs(JOB, [0, 1], version=0),
            mock_alloc(JOB, 2, version=1, previous_allocation="old", id="new2"),
        ],
        {},
        kw={"job_version": 1, "update_fn": always_destructive},
    ),
    Case(
        "the next replacement starts once the replaced one runs",
        dataclasses.replace(with_count(JOB, 3), update=UpdateStrategy(max_parallel=1)),
        [
            *_allocs(JOB, [0, 1], version=0),
            mock_alloc(JOB, 2, version=1, previous_allocation="old", id="new2"),
        ],
        {"place": 1, "stop": 1, "destructive": 1},
        statuses={"new2": ClientStatus.RUNNING},
        kw={"job_version": 1, "update_fn": always_destructive},
    ),
    Case(
        "an explicit gate overrides max_parallel",
        JOB,
        _allocs(JOB, range(10), version=0),
        {"place": 3, "stop": 3, "destructive": 3},
        kw={"job_version": 1, "update_fn": always_destructive, "max_replace": {"web": 3}},
    ),
    Case(
        "a non-destructive change updates in place",
        JOB,
        _allocs(JOB, range(10), version=0),
        {"inplace": 10},
        kw={"job_version": 1, "update_fn": always_inplace},
    ),
    Case(
        "a node_pool change replaces the allocations left outside the pool",
        dataclasses.replace(JOB, node_pool="gpu"),
        [*_allocs(JOB, range(2), version=0, node="n1"), mock_alloc(JOB, 2, version=0, node="gpu1")],
        {"inplace": 1, "place": 9, "stop": 2, "destructive": 2},
        nodes=nodes_map(mock_node("n1"), mock_node("gpu1", node_pool="gpu")),
        kw={"job_version": 1, "update_fn": always_inplace, "max_replace": {"web": 10}},
    ),
    Case(
        "a count-only change is in place by default",
        JOB,
        _allocs(JOB, range(4), version=0),
        {"inplace": 4, "place": 6},
        kw={"job_version": 1, "versions": {0: with_count(JOB, 4)}},
    ),
    Case(
        "a resources change is destructive by default",
        with_count(JOB, 2),
        _allocs(JOB, range(2), version=0),
        {"place": 2, "stop": 2, "destructive": 2},
        kw={"job_version": 1, "versions": {0: mock_job(2, cpu=999)}},
    ),
    Case(
        "a failed service allocation is rescheduled after its delay",
        with_count(JOB, 1),
        _allocs(JOB, [0]),
        {"reschedule_later": 1},
        statuses={"a-web-0-0-n1": ClientStatus.FAILED},
        check=lambda r: r.reschedule_later[0].at == NOW + 30,
    ),
    Case(
        "a failed allocation past its delay is replaced now",
        with_count(JOB, 1),
        _allocs(JOB, [0]),
        {"reschedule_now": 1, "place": 1},
        statuses={"a-web-0-0-n1": ClientStatus.FAILED},
        kw={"now": NOW + 31},
        check=lambda r: r.place[0].previous is not None and r.place[0].index == 0,
    ),
    Case(
        "a failed allocation already replaced is left alone",
        with_count(JOB, 1),
        [*_allocs(JOB, [0], next_allocation="x"), mock_alloc(JOB, 0, id="x")],
        {},
        statuses={"a-web-0-0-n1": ClientStatus.FAILED},
    ),
    Case(
        "a rescheduled failed allocation on a down node is not replaced again",
        with_count(JOB, 1),
        [*_allocs(JOB, [0], node="gone", next_allocation="x"), mock_alloc(JOB, 0, id="x", node="n1")],
        {},
        statuses={"a-web-0-0-gone": ClientStatus.FAILED},
    ),
    Case(
        "a service allocation that completed is replaced",
        with_count(JOB, 1),
        _allocs(JOB, [0]),
        {"place": 1},
        statuses={"a-web-0-0-n1": ClientStatus.COMPLETE},
    ),
    Case(
        "a batch allocation that completed is not replaced",
        mock_job(2, type="batch"),
        _allocs(mock_job(2, type="batch"), [0, 1]),
        {},
        statuses={"a-web-0-0-n1": ClientStatus.COMPLETE, "a-web-1-0-n1": ClientStatus.COMPLETE},
    ),
    Case(
        "a batch allocation out of reschedule attempts stays failed",
        mock_job(1, type="batch"),
        [mock_alloc(mock_job(1, type="batch"), 0, reschedule_attempts=[NOW - 10])],
        {},
        statuses={"a-web-0-0-n1": ClientStatus.FAILED},
        kw={"now": NOW + 100},
    ),
    Case(
        "stopped allocations are ignored and free their index",
        with_count(JOB, 1),
        _allocs(JOB, [0], desired_status=DesiredStatus.STOP),
        {"place": 1},
        check=lambda r: _placed_indexes(r) == [0],
    ),
    Case(
        "a removed group's allocations are stopped",
        JOB,
        _allocs(JOB, [0, 1], group="old"),
        {"place": 10, "stop": 2},
    ),
    Case(
        "a draining node's allocation is replaced first",
        with_count(JOB, 1),
        _allocs(JOB, [0]),
        {"place": 1},
        nodes=nodes_map(mock_node("n1", drain=True), mock_node("n2")),
        check=lambda r: r.place[0].reason == "migrate" and not r.stop,
    ),
    Case(
        "a drained allocation stops once its replacement runs",
        with_count(JOB, 1),
        [*_allocs(JOB, [0]), mock_alloc(JOB, 0, node="n2", id="r", previous_allocation="a-web-0-0-n1")],
        {"stop": 1},
        statuses={"r": ClientStatus.RUNNING},
        nodes=nodes_map(mock_node("n1", drain=True), mock_node("n2")),
    ),
    Case(
        "a system job places one allocation per eligible node",
        mock_job(1, type="system"),
        [],
        {"place": 2},
        nodes=nodes_map(mock_node("n1"), mock_node("n2"), mock_node("n3", eligibility="ineligible")),
        check=lambda r: sorted(p.node_id for p in r.place) == ["n1", "n2"],
    ),
    Case(
        "a system job follows a node that leaves",
        mock_job(1, type="system"),
        [
            mock_alloc(mock_job(1, type="system"), 0, node="n1"),
            mock_alloc(mock_job(1, type="system"), 0, node="n2"),
        ],
        {"stop": 1, "lost": 1},
        nodes=nodes_map(mock_node("n1"), mock_node("n2", status=NodeStatus.DOWN)),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_reconcile(case: Case) -> None:
    statuses = {
        aid: mock_status(next(a for a in case.allocs if a.id == aid), cs, at=NOW)
        for aid, cs in case.statuses.items()
    }
    kw = {"now": NOW, "job_version": 0, **case.kw}
    r = reconcile(case.job, case.allocs, statuses, nodes=case.nodes, **kw)
    assert_results(r, **case.want)
    if case.check is not None:
        assert case.check(r) is not False


def test_desired_changes_per_group_feed_the_plan_words() -> None:
    r = reconcile(with_count(JOB, 5), _allocs(JOB, range(4)), {}, nodes=NODES, now=NOW)
    upd = r.desired_tg_updates["web"]
    assert (upd.place, upd.ignore) == (1, 4)
    assert upd.words() == "(1 create, 4 ignore)"


IGNORE_COUNTS = [
    pytest.param(DesiredStatus.STOP, ClientStatus.COMPLETE, id="an earlier version stopped"),
    pytest.param(DesiredStatus.RUN, ClientStatus.COMPLETE, id="service allocations that completed"),
    pytest.param(DesiredStatus.RUN, ClientStatus.LOST, id="lost allocations"),
]


@pytest.mark.parametrize(("desired", "client"), IGNORE_COUNTS)
def test_terminal_allocations_are_not_counted_as_ignore(desired: str, client: str) -> None:
    """The user story's count-5 job after `job stop` and a new run: `nomad job plan` shows
    `5 ignore` for the five running allocations, not ten (issue 12)."""
    job = with_count(JOB, 5)
    old = _allocs(job, range(5), version=0, desired_status=desired)
    running = _allocs(job, range(5), version=1)
    statuses = {a.id: mock_status(a, client) for a in old}
    statuses |= {a.id: mock_status(a, ClientStatus.RUNNING) for a in running}
    r = reconcile(job, old + running, statuses, nodes=NODES, now=NOW, job_version=1)
    assert r.desired_tg_updates["web"].words() == "(5 ignore)"
    if desired == DesiredStatus.STOP:  # stopping the job again: only the running ones
        stopped = reconcile(None, old + running, statuses, nodes=NODES, now=NOW, job_version=1)
        assert stopped.desired_tg_updates["web"].words() == "(5 destroy)"


def test_tasks_updated_rules() -> None:
    base = mock_job(3)
    assert tasks_updated(base, with_count(base, 5), "web") is False
    assert tasks_updated(base, dataclasses.replace(base, meta={"a": "b"}), "web") is False
    bigger = mock_job(3)
    bigger.task_groups[0].tasks[0].resources = Resources(cpu=500)
    assert tasks_updated(base, bigger, "web") is True
    assert tasks_updated(None, base, "web") is True


def test_reschedule_policy_from_the_group() -> None:
    job = with_count(JOB, 1)
    job.task_groups[0].reschedule = ReschedulePolicy(
        delay=5 * SECOND, delay_function="constant", unlimited=True
    )
    a = mock_alloc(job, 0)
    r = reconcile(job, [a], {a.id: mock_status(a, ClientStatus.FAILED, at=NOW)}, nodes=NODES, now=NOW)
    assert r.reschedule_later[0].at == NOW + 5
